package io.pointsman.ipvs;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * The few iptables rules IPVS mode needs beside the virtual services, in upstream's layout:
 * masquerade marking (KUBE-MARK-MASQ, KUBE-POSTROUTING), KUBE-SERVICES matching the ipsets,
 * KUBE-NODE-PORT, KUBE-LOAD-BALANCER, the source-range firewall and the kube-ipvs0 access filter.
 * Pure: state in, {@code iptables-restore --noflush} text out.
 */
public final class IpvsRules {
    private IpvsRules() {
    }

    /** A jump from a built-in chain into one of ours, kept in place with {@code -I}. */
    public record Jump(String table, String chain, String comment, String target) {
        /** The rule as iptables-save prints it. */
        public String rule() {
            return "-A " + chain + " -m comment --comment \"" + comment + "\" -j " + target;
        }
    }

    public static final List<Jump> JUMPS = List.of(
            new Jump("nat", "OUTPUT", "kubernetes service portals", "KUBE-SERVICES"),
            new Jump("nat", "PREROUTING", "kubernetes service portals", "KUBE-SERVICES"),
            new Jump("nat", "POSTROUTING", "kubernetes postrouting rules", "KUBE-POSTROUTING"),
            new Jump("filter", "FORWARD", "kubernetes forwarding rules", "KUBE-FORWARD"),
            new Jump("filter", "INPUT", "kubernetes health check rules", "KUBE-NODE-PORT"),
            new Jump("filter", "INPUT", "kube-proxy firewall rules", "KUBE-PROXY-FIREWALL"),
            new Jump("filter", "FORWARD", "kube-proxy firewall rules", "KUBE-PROXY-FIREWALL"),
            new Jump("filter", "INPUT", "kubernetes ipvs access filter", "KUBE-IPVS-FILTER"),
            new Jump("filter", "OUTPUT", "kubernetes ipvs access filter", "KUBE-IPVS-OUT-FILTER"));

    public static final List<String> NAT_CHAINS = List.of("KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODE-PORT",
            "KUBE-LOAD-BALANCER", "KUBE-MARK-MASQ");
    public static final List<String> FILTER_CHAINS = List.of("KUBE-FORWARD", "KUBE-NODE-PORT", "KUBE-PROXY-FIREWALL",
            "KUBE-SOURCE-RANGES-FIREWALL", "KUBE-IPVS-FILTER", "KUBE-IPVS-OUT-FILTER");

    /**
     * The restore payload of one family: both tables, our chains flushed and rewritten, then any
     * of {@code missingJumps} inserted at the top of their built-in chains.
     */
    public static String render(IpFamily family, IpvsSettings s, NodeInfo node, DesiredState desired,
                                List<Jump> missingJumps) {
        String mark = s.masqueradeMarkHex();
        StringBuilder b = new StringBuilder();

        // --- nat
        b.append("*nat\n");
        for (String c : NAT_CHAINS) {
            b.append(':').append(c).append(" - [0:0]\n");
        }
        line(b, "-A KUBE-MARK-MASQ -j MARK --or-mark " + mark);
        line(b, "-A KUBE-POSTROUTING -m comment --comment \"" + IpsetSpec.LOOP_BACK.comment() + "\" -m set --match-set "
                + set(IpsetSpec.LOOP_BACK, family) + " dst,dst,src -j MASQUERADE");
        line(b, "-A KUBE-POSTROUTING -m mark ! --mark " + mark + "/" + mark + " -j RETURN");
        line(b, "-A KUBE-POSTROUTING -j MARK --xor-mark " + mark);
        line(b, "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE"
                + (s.randomFully() ? " --random-fully" : ""));

        if (nonEmpty(desired, family, IpsetSpec.LOAD_BALANCER)) {
            line(b, "-A KUBE-SERVICES" + matchSet(IpsetSpec.LOAD_BALANCER, family) + " -j KUBE-LOAD-BALANCER");
            if (nonEmpty(desired, family, IpsetSpec.LOAD_BALANCER_LOCAL)) {
                line(b, "-A KUBE-LOAD-BALANCER" + matchSet(IpsetSpec.LOAD_BALANCER_LOCAL, family) + " -j RETURN");
            }
        }
        if (nonEmpty(desired, family, IpsetSpec.CLUSTER_IP)) {
            String m = matchSetNoDir(IpsetSpec.CLUSTER_IP, family);
            if (s.masqueradeAll()) {
                line(b, "-A KUBE-SERVICES" + m + " dst,dst -j KUBE-MARK-MASQ");
            } else {
                String notLocal = notLocal(family, s, node);
                if (notLocal != null) {
                    line(b, "-A KUBE-SERVICES " + notLocal + m + " dst,dst -j KUBE-MARK-MASQ");
                } else {
                    // No way to tell pod traffic: masquerade node-originated traffic sourced from a service IP.
                    line(b, "-A KUBE-SERVICES" + m + " src,dst -j KUBE-MARK-MASQ");
                }
            }
        }
        if (nonEmpty(desired, family, IpsetSpec.EXTERNAL_IP)) {
            String m = matchSet(IpsetSpec.EXTERNAL_IP, family);
            line(b, "-A KUBE-SERVICES" + m + " -j KUBE-MARK-MASQ");
            externalAccept(b, m);
        }
        if (nonEmpty(desired, family, IpsetSpec.EXTERNAL_IP_LOCAL)) {
            externalAccept(b, matchSet(IpsetSpec.EXTERNAL_IP_LOCAL, family));
        }
        line(b, "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT");
        line(b, "-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ");
        nodePortRules(b, desired, family, "tcp", IpsetSpec.NODE_PORT_TCP, IpsetSpec.NODE_PORT_LOCAL_TCP);
        nodePortRules(b, desired, family, "udp", IpsetSpec.NODE_PORT_UDP, IpsetSpec.NODE_PORT_LOCAL_UDP);
        nodePortRules(b, desired, family, "sctp", IpsetSpec.NODE_PORT_SCTP, IpsetSpec.NODE_PORT_LOCAL_SCTP);
        // Traffic for a virtual service is accepted before any later rule can drop it.
        for (IpsetSpec spec : List.of(IpsetSpec.CLUSTER_IP, IpsetSpec.LOAD_BALANCER)) {
            if (nonEmpty(desired, family, spec)) {
                line(b, "-A KUBE-SERVICES -m set --match-set " + set(spec, family) + " " + spec.matchFlags()
                        + " -j ACCEPT");
            }
        }
        jumps(b, "nat", missingJumps);
        b.append("COMMIT\n");

        // --- filter
        b.append("*filter\n");
        for (String c : FILTER_CHAINS) {
            b.append(':').append(c).append(" - [0:0]\n");
        }
        line(b, "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark " + mark + "/"
                + mark + " -j ACCEPT");
        line(b, "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate"
                + " RELATED,ESTABLISHED -j ACCEPT");
        line(b, "-A KUBE-NODE-PORT" + matchSet(IpsetSpec.HEALTH_CHECK_NODE_PORT, family) + " -j ACCEPT");
        line(b, "-A KUBE-PROXY-FIREWALL" + matchSet(IpsetSpec.LOAD_BALANCER_FW, family)
                + " -j KUBE-SOURCE-RANGES-FIREWALL");
        line(b, "-A KUBE-SOURCE-RANGES-FIREWALL -m set --match-set " + set(IpsetSpec.LOAD_BALANCER_SOURCE_CIDR, family)
                + " dst,dst,src -j RETURN");
        line(b, "-A KUBE-SOURCE-RANGES-FIREWALL -m set --match-set " + set(IpsetSpec.LOAD_BALANCER_SOURCE_IP, family)
                + " dst,dst,src -j RETURN");
        line(b, "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP");
        for (IpsetSpec spec : List.of(IpsetSpec.LOAD_BALANCER, IpsetSpec.CLUSTER_IP, IpsetSpec.EXTERNAL_IP,
                IpsetSpec.EXTERNAL_IP_LOCAL, IpsetSpec.HEALTH_CHECK_NODE_PORT)) {
            line(b, "-A KUBE-IPVS-FILTER -m set --match-set " + set(spec, family) + " " + spec.matchFlags()
                    + " -j RETURN");
        }
        // A new connection to a kube-ipvs0 address on a port no service uses is refused, not answered by the host.
        line(b, "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set " + set(IpsetSpec.IPVS_IPS, family)
                + " dst -j REJECT" + (family == IpFamily.IPv6 ? " --reject-with icmp6-port-unreachable" : ""));
        jumps(b, "filter", missingJumps);
        b.append("COMMIT\n");
        return b.toString();
    }

    /** The jumps of {@code JUMPS} whose rule is absent from the {@code iptables-save} text of their table. */
    public static List<Jump> missingJumps(String natSave, String filterSave) {
        List<Jump> out = new ArrayList<>();
        for (Jump j : JUMPS) {
            String saved = j.table().equals("nat") ? natSave : filterSave;
            if (!saved.lines().anyMatch(l -> l.equals(j.rule()))) {
                out.add(j);
            }
        }
        return out;
    }

    private static void jumps(StringBuilder b, String table, List<Jump> missing) {
        for (Jump j : missing) {
            if (j.table().equals(table)) {
                line(b, "-I " + j.chain() + " 1 -m comment --comment \"" + j.comment() + "\" -j " + j.target());
            }
        }
    }

    private static void nodePortRules(StringBuilder b, DesiredState d, IpFamily family, String proto, IpsetSpec set,
                                      IpsetSpec local) {
        if (!nonEmpty(d, family, set)) {
            return;
        }
        if (nonEmpty(d, family, local)) {
            line(b, "-A KUBE-NODE-PORT -p " + proto + matchSet(local, family) + " -j RETURN");
        }
        line(b, "-A KUBE-NODE-PORT -p " + proto + matchSet(set, family) + " -j KUBE-MARK-MASQ");
    }

    // Traffic to an external IP from off the node, or to one that is also a local address, stays on this node.
    private static void externalAccept(StringBuilder b, String match) {
        line(b, "-A KUBE-SERVICES" + match + " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT");
        line(b, "-A KUBE-SERVICES" + match + " -m addrtype --dst-type LOCAL -j ACCEPT");
    }

    private static String notLocal(IpFamily family, IpvsSettings s, NodeInfo node) {
        switch (s.detectLocalMode()) {
            case "ClusterCIDR": {
                String c = s.clusterCidr(family);
                return c == null ? null : "! -s " + c;
            }
            case "NodeCIDR":
                for (String c : node.podCIDRs()) {
                    if (io.pointsman.core.model.IpAddresses.familyOf(c) == family) {
                        return "! -s " + c;
                    }
                }
                return null;
            case "BridgeInterface":
                return s.bridgeInterface().isEmpty() ? null : "! -i " + s.bridgeInterface();
            case "InterfaceNamePrefix":
                return s.interfaceNamePrefix().isEmpty() ? null : "! -i " + s.interfaceNamePrefix() + "+";
            default:
                return null;
        }
    }

    private static boolean nonEmpty(DesiredState d, IpFamily family, IpsetSpec spec) {
        return !d.entries(family, spec).isEmpty();
    }

    private static String set(IpsetSpec spec, IpFamily family) {
        return spec.name(family);
    }

    private static String matchSet(IpsetSpec spec, IpFamily family) {
        return matchSetNoDir(spec, family) + " " + spec.matchFlags();
    }

    private static String matchSetNoDir(IpsetSpec spec, IpFamily family) {
        return " -m comment --comment \"" + spec.comment() + "\" -m set --match-set " + spec.name(family);
    }

    private static void line(StringBuilder b, String rule) {
        b.append(rule).append('\n');
    }
}
