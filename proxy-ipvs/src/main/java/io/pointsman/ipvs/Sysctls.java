package io.pointsman.ipvs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The kernel settings IPVS mode relies on, written under /proc/sys when they differ. */
final class Sysctls {
    private static final Logger log = LoggerFactory.getLogger(Sysctls.class);

    private Sysctls() {
    }

    /** Upstream's IPVS sysctls; strict ARP adds arp_ignore/arp_announce. */
    static Map<String, String> wanted(boolean strictARP) {
        Map<String, String> m = new LinkedHashMap<>();
        // iptables NAT (masquerade) sees IPVS connections only with conntrack on.
        m.put("net/ipv4/vs/conntrack", "1");
        // Connections to a deleted destination are dropped at once instead of timing out.
        m.put("net/ipv4/vs/expire_nodest_conn", "1");
        m.put("net/ipv4/vs/expire_quiescent_template", "1");
        m.put("net/ipv4/ip_forward", "1");
        if (strictARP) {
            m.put("net/ipv4/conf/all/arp_ignore", "1");
            m.put("net/ipv4/conf/all/arp_announce", "2");
        }
        return m;
    }

    /** Writes each wanted value that differs; returns how many could not be set. */
    static int apply(Map<String, String> wanted) {
        int failed = 0;
        for (Map.Entry<String, String> e : wanted.entrySet()) {
            Path p = Path.of("/proc/sys", e.getKey());
            try {
                String current = Files.readString(p, StandardCharsets.US_ASCII).trim();
                if (!current.equals(e.getValue())) {
                    Files.writeString(p, e.getValue(), StandardCharsets.US_ASCII);
                    log.info("sysctl {} = {} (was {})", e.getKey().replace('/', '.'), e.getValue(), current);
                }
            } catch (IOException | RuntimeException ex) {
                failed++;
                log.warn("cannot set sysctl {} = {}: {}", e.getKey().replace('/', '.'), e.getValue(), ex.toString());
            }
        }
        return failed;
    }
}
