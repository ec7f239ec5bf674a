package io.pointsman.core.linux;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import java.util.Locale;

/**
 * One conntrack entry: the original tuple (as the first packet had it) and the reply tuple (as
 * the answer is expected; after DNAT its source is the endpoint). Addresses are canonical.
 */
public record ConntrackFlow(IpFamily family, Protocol protocol, String origSrc, String origDst, int origSrcPort,
                            int origDstPort, String replySrc, String replyDst, int replySrcPort, int replyDstPort) {

    public ConntrackFlow {
        requireNonNull(family, "family");
        requireNonNull(protocol, "protocol");
        origSrc = IpAddresses.canonical(origSrc);
        origDst = IpAddresses.canonical(origDst);
        replySrc = IpAddresses.canonical(replySrc);
        replyDst = IpAddresses.canonical(replyDst);
    }

    /**
     * Parses one line of {@code conntrack -L} in its default format, e.g.
     * {@code udp 17 29 src=10.0.0.1 dst=10.96.0.10 sport=40000 dport=53 [UNREPLIED] src=10.244.1.2
     * dst=10.0.0.1 sport=5353 dport=40000 mark=0 use=1}: the first src/dst/sport/dport are the
     * original tuple, the second the reply tuple. Answers null for a line that is not a TCP, UDP or
     * SCTP flow (summary lines, other protocols).
     */
    public static ConntrackFlow parse(IpFamily family, String line) {
        String[] tokens = line.trim().split("\\s+");
        if (tokens.length == 0) {
            return null;
        }
        int first = 0;
        // "-o extended" lines start with the family name and number: "ipv4 2 udp 17 ...".
        if (tokens[0].equals("ipv4") || tokens[0].equals("ipv6")) {
            first = 2;
        }
        if (tokens.length <= first) {
            return null;
        }
        Protocol protocol;
        try {
            protocol = Protocol.parse(tokens[first].toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
        String[] ips = new String[4];
        int[] ports = new int[4];
        int ipCount = 0;
        int portCount = 0;
        for (int i = first + 1; i < tokens.length; i++) {
            String t = tokens[i];
            if ((t.startsWith("src=") || t.startsWith("dst=")) && ipCount < 4) {
                ips[ipCount++] = t.substring(4);
            } else if ((t.startsWith("sport=") || t.startsWith("dport=")) && portCount < 4) {
                try {
                    ports[portCount++] = Integer.parseInt(t.substring(6));
                } catch (NumberFormatException e) {
                    return null;
                }
            }
        }
        if (ipCount < 4 || portCount < 4) {
            return null;
        }
        try {
            return new ConntrackFlow(family, protocol, ips[0], ips[1], ports[0], ports[1], ips[2], ips[3], ports[2],
                    ports[3]);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Whether the destination was rewritten (DNAT): the reply comes from elsewhere than the original destination. */
    public boolean natted() {
        return !replySrc.equals(origDst) || replySrcPort != origDstPort;
    }

    @Override
    public String toString() {
        return protocol.lower() + " " + hostPort(origSrc, origSrcPort) + " -> " + hostPort(origDst, origDstPort)
                + " (reply from " + hostPort(replySrc, replySrcPort) + ")";
    }

    static String hostPort(String ip, int port) {
        return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + port;
    }
}
