package io.pointsman.userspace;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePortName;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * The "portal" rules that bring service traffic to the relay, as iptables-restore text (pure
 * functions). Kube-proxy's old userspace mode used the same chain names:
 *
 * <ul>
 *   <li>{@code KUBE-PORTALS-CONTAINER}, jumped to from nat PREROUTING: traffic arriving from pods
 *   and other hosts. {@code REDIRECT} rewrites the destination to the incoming interface's primary
 *   address and the relay port; the relay listens on the wildcard address, so no
 *   {@code route_localnet} is needed (as DNAT to 127.0.0.1 would).</li>
 *   <li>{@code KUBE-PORTALS-HOST}, jumped to from nat OUTPUT: the node's own traffic.
 *   {@code REDIRECT} sends it to 127.0.0.1 (::1) and the relay port.</li>
 * </ul>
 *
 * Conntrack undoes the rewrite on replies, so clients see the service address. Node ports need no
 * rule: the relay binds them directly. The chains are rewritten whole on each change (they are
 * one or two rules per service address, far smaller than the kernel-NAT modes' tables).
 */
final class PortalRules {
    static final String CONTAINER = "KUBE-PORTALS-CONTAINER";
    static final String HOST = "KUBE-PORTALS-HOST";
    /** Node-port chains of kube-proxy's userspace mode; Pointsman binds node ports instead, but cleans these up. */
    static final String NODEPORT_CONTAINER = "KUBE-NODEPORT-CONTAINER";
    static final String NODEPORT_HOST = "KUBE-NODEPORT-HOST";
    static final String NODEPORT_NON_LOCAL = "KUBE-NODEPORT-NON-LOCAL";
    static final String JUMP_COMMENT = "pointsman userspace: service portals";

    static final List<String> NAT_CHAINS = List.of(CONTAINER, HOST, NODEPORT_CONTAINER, NODEPORT_HOST);
    static final List<String> FILTER_CHAINS = List.of(NODEPORT_NON_LOCAL);

    private PortalRules() {
    }

    /**
     * One service address served by a relay port.
     *
     * @param sourceRanges for load-balancer IPs: only these sources are redirected (empty = all)
     */
    record Portal(ServicePortName name, Protocol protocol, String ip, int port, int relayPort, List<String> sourceRanges) {
        Portal {
            sourceRanges = List.copyOf(sourceRanges);
            if (relayPort < 0 || relayPort > 65535) {
                throw new IllegalArgumentException("relay port: " + relayPort + " (expected: 0-65535)");
            }
        }
    }

    static final Comparator<Portal> ORDER = Comparator.comparing(Portal::name).thenComparing(Portal::ip)
            .thenComparingInt(Portal::port);

    /**
     * The restore payload (nat table) that makes both portal chains hold exactly {@code portals};
     * with {@code addJumps} it also inserts the jumps from PREROUTING and OUTPUT (first, so the
     * relay wins over any stale kernel-NAT rules of another mode).
     */
    static String render(IpFamily family, List<Portal> portals, boolean addJumps) {
        List<Portal> sorted = new ArrayList<>(portals);
        sorted.sort(ORDER);
        StringBuilder b = new StringBuilder(128 + sorted.size() * 260);
        b.append("*nat\n");
        b.append(':').append(CONTAINER).append(" - [0:0]\n");
        b.append(':').append(HOST).append(" - [0:0]\n");
        if (addJumps) {
            b.append("-I PREROUTING 1 -m comment --comment \"").append(JUMP_COMMENT).append("\" -j ").append(CONTAINER).append('\n');
            b.append("-I OUTPUT 1 -m comment --comment \"").append(JUMP_COMMENT).append("\" -j ").append(HOST).append('\n');
        }
        String hostBits = family == IpFamily.IPv4 ? "/32" : "/128";
        for (Portal p : sorted) {
            if (p.sourceRanges().isEmpty()) {
                rule(b, CONTAINER, null, p, hostBits);
            } else {
                for (String range : p.sourceRanges()) {
                    rule(b, CONTAINER, range, p, hostBits);
                }
            }
        }
        // The node's own traffic to a load-balancer IP is not subject to its source ranges.
        for (Portal p : sorted) {
            rule(b, HOST, null, p, hostBits);
        }
        b.append("COMMIT\n");
        return b.toString();
    }

    private static void rule(StringBuilder b, String chain, String source, Portal p, String hostBits) {
        String proto = p.protocol().lower();
        b.append("-A ").append(chain);
        if (source != null) {
            b.append(" -s ").append(source);
        }
        b.append(" -d ").append(p.ip()).append(hostBits)
                .append(" -p ").append(proto)
                .append(" -m comment --comment \"").append(p.name()).append("\"")
                .append(" -m ").append(proto).append(" --dport ").append(p.port())
                .append(" -j REDIRECT --to-ports ").append(p.relayPort())
                .append('\n');
    }

    /** Number of rules {@link #render} writes for {@code portals} (jumps not counted). */
    static int ruleCount(List<Portal> portals) {
        int n = 0;
        for (Portal p : portals) {
            n += Math.max(1, p.sourceRanges().size()) + 1;
        }
        return n;
    }

    /** Whether {@code natSave} (iptables-save -t nat) already jumps from PREROUTING and OUTPUT to the portal chains. */
    static boolean jumpsPresent(String natSave) {
        boolean container = false;
        boolean host = false;
        for (String line : natSave.split("\n")) {
            if (line.startsWith("-A PREROUTING ") && line.endsWith("-j " + CONTAINER)) {
                container = true;
            } else if (line.startsWith("-A OUTPUT ") && line.endsWith("-j " + HOST)) {
                host = true;
            }
        }
        return container && host;
    }

    /**
     * The payload that removes every portal and node-port chain of the userspace mode (ours and
     * kube-proxy's) and every jump to them, found in {@code save} (iptables-save output of
     * {@code table}); "" when there is nothing to remove. Jumps are matched by target, not by
     * comment, so rules any version wrote go.
     */
    static String cleanup(String table, String save) {
        List<String> chains = "nat".equals(table) ? NAT_CHAINS : "filter".equals(table) ? FILTER_CHAINS : List.of();
        Set<String> builtins = Set.of("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING");
        List<String> present = new ArrayList<>();
        List<String> deletes = new ArrayList<>();
        for (String line : save.split("\n")) {
            for (String chain : chains) {
                if (line.startsWith(":" + chain + " ")) {
                    present.add(chain);
                }
            }
            if (line.startsWith("-A ")) {
                String[] words = line.split(" ", 3);
                if (words.length == 3 && builtins.contains(words[1])) {
                    for (String chain : chains) {
                        if (line.endsWith("-j " + chain) || line.contains("-j " + chain + " ")) {
                            deletes.add("-D " + line.substring(3));
                        }
                    }
                }
            }
        }
        if (present.isEmpty() && deletes.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder("*").append(table).append('\n');
        for (String chain : present) {
            b.append(':').append(chain).append(" - [0:0]\n");
        }
        for (String d : deletes) {
            b.append(d).append('\n');
        }
        for (String chain : present) {
            b.append("-X ").append(chain).append('\n');
        }
        b.append("COMMIT\n");
        return b.toString();
    }
}
