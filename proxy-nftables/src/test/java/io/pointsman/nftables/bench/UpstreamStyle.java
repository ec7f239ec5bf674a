package io.pointsman.nftables.bench;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An upstream-style nftables ruleset (kube-proxy's nftables mode as documented in
 * shared/reference/upstream-kube-proxy.md §3.1 and the golden output in
 * shared/conformance/nftables/upstream): table {@code ip kube-proxy}, the same base chains and
 * maps, a {@code service-*} chain per service port choosing an {@code endpoint-*} chain per
 * endpoint with {@code numgen random mod N vmap}, one command per object as a transaction writes
 * them. Generated from the documented layout, for the benchmark only.
 */
final class UpstreamStyle {
    static final String POD_CIDR = "10.128.0.0/9";
    private static final char[] BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".toCharArray();

    private UpstreamStyle() {
    }

    static String full(ProxyState state, int n, int m) {
        StringBuilder b = new StringBuilder(n * (400 + m * 330));
        String t = "ip kube-proxy";
        b.append("add table ").append(t).append(" { comment \"rules for kube-proxy\" ; }\n");
        b.append("add set ").append(t).append(" cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }\n");
        b.append("add set ").append(t).append(" nodeport-ips { type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }\n");
        for (String map : List.of("firewall-ips", "no-endpoint-services", "service-ips")) {
            b.append("add map ").append(t).append(' ').append(map)
                    .append(" { type ipv4_addr . inet_proto . inet_service : verdict ; }\n");
        }
        for (String map : List.of("no-endpoint-nodeports", "service-nodeports")) {
            b.append("add map ").append(t).append(' ').append(map).append(" { type inet_proto . inet_service : verdict ; }\n");
        }
        String[][] base = {
            {"filter-prerouting-pre-dnat", "type filter hook prerouting priority -110 ;"},
            {"filter-output-pre-dnat", "type filter hook output priority -110 ;"},
            {"filter-forward", "type filter hook forward priority 0 ;"},
            {"filter-input", "type filter hook input priority 0 ;"},
            {"filter-output", "type filter hook output priority 0 ;"},
            {"nat-output", "type nat hook output priority -100 ;"},
            {"nat-postrouting", "type nat hook postrouting priority 100 ;"},
            {"nat-prerouting", "type nat hook prerouting priority -100 ;"}};
        for (String[] c : base) {
            b.append("add chain ").append(t).append(' ').append(c[0]).append(" { ").append(c[1]).append(" }\n");
        }
        for (String c : List.of("cluster-ips-check", "firewall-check", "mark-for-masquerade", "masquerading",
                "nodeport-endpoints-check", "reject-chain", "services", "service-endpoints-check")) {
            b.append("add chain ").append(t).append(' ').append(c).append('\n');
        }
        String[] rules = {
            "cluster-ips-check ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
            "cluster-ips-check ip daddr { 10.96.0.0/12 } drop comment \"Drop traffic to unallocated ClusterIPs\"",
            "filter-prerouting-pre-dnat ct state new jump firewall-check",
            "filter-forward ct state new jump service-endpoints-check",
            "filter-forward ct state new jump cluster-ips-check",
            "filter-input ct state new jump nodeport-endpoints-check",
            "filter-input ct state new jump service-endpoints-check",
            "filter-output ct state new jump service-endpoints-check",
            "filter-output-pre-dnat ct state new jump firewall-check",
            "filter-output ct state new jump cluster-ips-check",
            "firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips",
            "mark-for-masquerade mark set mark or 0x4000",
            "masquerading mark and 0x4000 == 0 return",
            "masquerading mark set mark xor 0x4000",
            "masquerading masquerade fully-random",
            "nat-output jump services",
            "nat-postrouting jump masquerading",
            "nat-prerouting jump services",
            "nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
            "reject-chain reject",
            "services ip daddr . meta l4proto . th dport vmap @service-ips",
            "services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
            "service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services"};
        for (String r : rules) {
            b.append("add rule ").append(t).append(' ').append(r).append('\n');
        }
        b.append("add element ").append(t).append(" nodeport-ips { 192.168.0.2 }\n");
        for (Map.Entry<ServicePortName, ServicePort> e : state.sortedServices().entrySet()) {
            ServicePort svc = e.getValue();
            List<Endpoint> eps = state.endpointsOf(e.getKey());
            String id = id(e.getKey());
            String svcChain = "service-" + hash(id) + "-" + id;
            List<String> epChains = new ArrayList<>();
            for (Endpoint ep : eps) {
                String epId = id + "__" + ep.ip() + "/" + ep.port();
                String chain = "endpoint-" + hash(epId) + "-" + epId;
                epChains.add(chain);
                endpointChain(b, t, chain, ep);
            }
            b.append("add chain ").append(t).append(' ').append(svcChain).append('\n');
            serviceRules(b, t, svcChain, svc.clusterIPs().get(0), epChains);
            b.append("add element ").append(t).append(" cluster-ips { ").append(svc.clusterIPs().get(0)).append(" }\n");
            b.append("add element ").append(t).append(" service-ips { ").append(svc.clusterIPs().get(0))
                    .append(" . tcp . ").append(svc.port()).append(" : goto ").append(svcChain).append(" }\n");
        }
        return b.toString();
    }

    /** Upstream's transaction for one replaced endpoint: a new endpoint chain, the service chain rewritten, the old chain gone. */
    static String endpointChange(ProxyState state, int c) {
        String t = "ip kube-proxy";
        List<ServicePortName> names = new ArrayList<>(state.sortedServices().keySet());
        ServicePortName name = names.get((int) ((long) (c + 1) * 104729 % names.size()));
        ServicePort svc = state.services().get(name);
        List<Endpoint> eps = new ArrayList<>(state.endpointsOf(name));
        String id = id(name);
        Endpoint old = eps.get(0);
        Endpoint fresh = Endpoint.ready("10.251.0." + (c + 1), 8080, "node-y");
        eps.set(0, fresh);
        StringBuilder b = new StringBuilder();
        List<String> epChains = new ArrayList<>();
        for (Endpoint ep : eps) {
            String epId = id + "__" + ep.ip() + "/" + ep.port();
            epChains.add("endpoint-" + hash(epId) + "-" + epId);
        }
        endpointChain(b, t, epChains.get(0), fresh);
        String svcChain = "service-" + hash(id) + "-" + id;
        b.append("flush chain ").append(t).append(' ').append(svcChain).append('\n');
        serviceRules(b, t, svcChain, svc.clusterIPs().get(0), epChains);
        String oldId = id + "__" + old.ip() + "/" + old.port();
        b.append("delete chain ").append(t).append(" endpoint-").append(hash(oldId)).append('-').append(oldId).append('\n');
        return b.toString();
    }

    private static void endpointChain(StringBuilder b, String t, String chain, Endpoint ep) {
        b.append("add chain ").append(t).append(' ').append(chain).append('\n');
        b.append("add rule ").append(t).append(' ').append(chain).append(" ip saddr ").append(ep.ip())
                .append(" jump mark-for-masquerade\n");
        b.append("add rule ").append(t).append(' ').append(chain).append(" meta l4proto tcp dnat to ").append(ep.ip())
                .append(':').append(ep.port()).append('\n');
    }

    private static void serviceRules(StringBuilder b, String t, String svcChain, String clusterIP, List<String> epChains) {
        b.append("add rule ").append(t).append(' ').append(svcChain).append(" ip daddr ").append(clusterIP)
                .append(" ip saddr != ").append(POD_CIDR).append(" jump mark-for-masquerade\n");
        b.append("add rule ").append(t).append(' ').append(svcChain).append(" numgen random mod ").append(epChains.size())
                .append(" vmap { ");
        for (int i = 0; i < epChains.size(); i++) {
            b.append(i == 0 ? "" : ", ").append(i).append(" : goto ").append(epChains.get(i));
        }
        b.append(" }\n");
    }

    private static String id(ServicePortName name) {
        return name.namespace() + "/" + name.name() + "/" + name.protocol().lower() + "/" + name.port();
    }

    private static String hash(String text) {
        byte[] d;
        try {
            d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long bits = 0;
        for (int i = 0; i < 5; i++) {
            bits = (bits << 8) | (d[i] & 0xff);
        }
        char[] out = new char[8];
        for (int i = 7; i >= 0; i--) {
            out[i] = BASE32[(int) (bits & 31)];
            bits >>>= 5;
        }
        return new String(out);
    }
}
