package io.pointsman.ipvs.kernel;

/** IPVS connection timeouts in seconds (ipvsadm --set tcp tcpfin udp); 0 = leave unchanged. */
public record IpvsTimeouts(int tcp, int tcpFin, int udp) {
    public IpvsTimeouts {
        if (tcp < 0 || tcpFin < 0 || udp < 0) {
            throw new IllegalArgumentException("IPVS timeouts: " + tcp + "/" + tcpFin + "/" + udp
                    + " (expected: seconds >= 0)");
        }
    }

    public boolean isEmpty() {
        return tcp == 0 && tcpFin == 0 && udp == 0;
    }
}
