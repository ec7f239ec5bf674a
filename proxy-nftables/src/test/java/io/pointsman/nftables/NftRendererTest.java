package io.pointsman.nftables;

import static io.pointsman.nftables.Fixtures.ep;
import static io.pointsman.nftables.Fixtures.localEp;
import static io.pointsman.nftables.Fixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.nftables.Fixtures.StateBuilder;
import io.pointsman.nftables.Fixtures.Svc;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The full-sync script: golden text for upstream's six test Services, and each feature on its own. */
class NftRendererTest {

    static String render(ProxyConfig config, ProxyState state) {
        return new NftablesBackend(config, new ProxyMetrics("nftables"), new RecordingNft(), () -> { })
                .renderFullSync(state);
    }

    static Script script(ProxyState state) {
        return Script.parse(render(Fixtures.config(), state));
    }

    @Test
    void upstreamOverallServicesRenderAsTheGoldenFile() throws IOException {
        String golden;
        try (InputStream in = getClass().getResourceAsStream("overall.nft")) {
            golden = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(render(Fixtures.config(), Fixtures.upstreamOverall())).isEqualTo(golden);
    }

    @Test
    void renderIsDeterministicWhateverTheMapOrder() {
        ProxyState a = Fixtures.upstreamOverall();
        ProxyState b = new ProxyState(a.node(), new java.util.TreeMap<>(a.services()), new java.util.TreeMap<>(a.endpoints()));
        assertThat(render(Fixtures.config(), b)).isEqualTo(render(Fixtures.config(), a));
    }

    @Test
    void clusterIpDispatchesToTheSharedChainOfItsEndpointCount() {
        Script s = script(new StateBuilder().add(new Svc(name("ns", "a", "p"), "10.96.0.1", 80),
                ep("10.1.0.1", 8080), ep("10.1.0.2", 8080), ep("10.1.0.3", 8080)).build());
        assertThat(s.elements(Ruleset.SERVICE_IPS)).containsExactly(entry("10.96.0.1 . tcp . 80", "goto lb-3"));
        assertThat(s.slots("backends-")).containsExactly(
                entry("10.96.0.1 . tcp . 80 . 0", "10.1.0.1 . 8080"),
                entry("10.96.0.1 . tcp . 80 . 1", "10.1.0.2 . 8080"),
                entry("10.96.0.1 . tcp . 80 . 2", "10.1.0.3 . 8080"));
        assertThat(s.rules("lb-3")).containsExactly(
                "numgen random mod 3 vmap { 0 : goto backend-0, 1 : goto backend-1, 2 : goto backend-2 }");
        assertThat(s.rules("backend-2")).containsExactly(
                "dnat ip addr . port to ip daddr . meta l4proto . th dport map @backends-2");
        assertThat(s.commands).contains("add map ip pointsman backends-2 { type ipv4_addr . inet_proto . inet_service"
                + " : ipv4_addr . inet_service ; }");
        assertThat(s.elements(Ruleset.CLUSTER_IPS)).containsOnlyKeys("10.96.0.1");
        // Off-cluster sources to ClusterIPs are masqueraded; pods are not.
        assertThat(s.rules("services")).contains("ip saddr != 10.0.0.0/8 ip daddr @cluster-ips mark set mark or 0x4000");
    }

    @Test
    void servicesWithoutEndpointsAreRejectedAndNeverDispatched() {
        Svc svc = new Svc(name("ns", "empty", "p"), "10.96.0.9", 80);
        svc.type = ServiceType.NODE_PORT;
        svc.nodePort = 30009;
        svc.externalIPs.add("192.0.2.9");
        Script s = script(new StateBuilder().add(svc).build());
        assertThat(s.elements(Ruleset.NO_ENDPOINT_SERVICES)).containsOnly(
                entry("10.96.0.9 . tcp . 80", "goto reject-chain"), entry("192.0.2.9 . tcp . 80", "goto reject-chain"));
        assertThat(s.elements(Ruleset.NO_ENDPOINT_NODEPORTS)).containsOnly(entry("tcp . 30009", "goto reject-chain"));
        assertThat(s.elements(Ruleset.SERVICE_IPS)).isEmpty();
        assertThat(s.elements(Ruleset.SERVICE_NODEPORTS)).isEmpty();
        assertThat(s.rules(Ruleset.REJECT_CHAIN)).containsExactly("reject");
        assertThat(s.rules("filter-forward")).contains("ct state new jump service-endpoints-check");
        assertThat(s.rules("filter-input")).contains("ct state new jump nodeport-endpoints-check");
    }

    @Test
    void nodePortWithClusterPolicyIsMasqueradedAndDispatchedByPort() {
        Svc svc = new Svc(name("ns", "np", "p", Protocol.UDP), "10.96.0.2", 53);
        svc.type = ServiceType.NODE_PORT;
        svc.nodePort = 30053;
        Script s = script(new StateBuilder().add(svc, ep("10.1.0.1", 5353), ep("10.1.0.2", 5353)).build());
        assertThat(s.elements(Ruleset.SERVICE_NODEPORTS)).containsExactly(entry("udp . 30053", "goto np-lb-2"));
        assertThat(s.slots("np-backends-")).containsExactly(
                entry("udp . 30053 . 0", "10.1.0.1 . 5353"), entry("udp . 30053 . 1", "10.1.0.2 . 5353"));
        assertThat(s.elements(Ruleset.MASQUERADE_NODEPORTS)).containsOnlyKeys("udp . 30053");
        assertThat(s.elements(Ruleset.SERVICE_IPS)).containsExactly(entry("10.96.0.2 . udp . 53", "goto lb-2"));
        assertThat(s.rules("np-lb-2")).containsExactly(
                "numgen random mod 2 vmap { 0 : goto np-backend-0, 1 : goto np-backend-1 }");
        assertThat(s.rules("np-backend-1")).containsExactly(
                "dnat ip addr . port to meta l4proto . th dport map @np-backends-1");
        // Default nodePortAddresses and localhost NodePorts: every local address, 127.0.0.1 included.
        assertThat(s.rules("services")).contains("fib daddr type local meta l4proto . th dport vmap @service-nodeports");
        assertThat(s.rules("filter-input")).contains("ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8"
                + " ct state != { established, related } ct status ! dnat drop");
    }

    @Test
    void externalLocalPolicyKeepsClientAddressesOnLocalEndpointsAndShortCircuitsPodAndNodeTraffic() {
        Svc svc = new Svc(name("ns", "lb", "p"), "10.96.0.3", 80);
        svc.type = ServiceType.LOAD_BALANCER;
        svc.nodePort = 30080;
        svc.lbIPs.add("203.0.113.7");
        svc.etp = TrafficPolicy.LOCAL;
        svc.hcnp = 32000;
        Script s = script(new StateBuilder().add(svc, ep("10.1.0.1", 80), localEp("10.1.0.2", 80), ep("10.1.0.3", 80))
                .build());
        // ClusterIP: every endpoint.
        assertThat(s.elements(Ruleset.SERVICE_IPS)).containsEntry("10.96.0.3 . tcp . 80", "goto lb-3");
        // External: the local endpoint only, unmasqueraded.
        assertThat(s.elements(Ruleset.SERVICE_IPS)).containsEntry("203.0.113.7 . tcp . 80", "goto lb-1");
        assertThat(s.slots("backends-")).containsEntry("203.0.113.7 . tcp . 80 . 0", "10.1.0.2 . 80");
        assertThat(s.elements(Ruleset.MASQUERADE_IPS)).isEmpty();
        assertThat(s.elements(Ruleset.SERVICE_NODEPORTS)).containsExactly(entry("tcp . 30080", "goto np-lb-1"));
        assertThat(s.slots("np-backends-")).containsEntry("tcp . 30080 . 0", "10.1.0.2 . 80");
        // Pods and the node itself use every endpoint, from the short-circuit slots.
        assertThat(s.elements(Ruleset.SHORT_CIRCUIT_IPS)).containsExactly(entry("203.0.113.7 . tcp . 80", "goto lb-sc-3"));
        assertThat(s.slots("backends-sc-")).containsEntry("203.0.113.7 . tcp . 80 . 2", "10.1.0.3 . 80");
        assertThat(s.elements(Ruleset.SHORT_CIRCUIT_NODEPORTS)).containsExactly(entry("tcp . 30080", "goto np-lb-sc-3"));
        assertThat(s.rules("lb-sc-3")).containsExactly(
                "numgen random mod 3 vmap { 0 : goto backend-sc-0, 1 : goto backend-sc-1, 2 : goto backend-sc-2 }");
        assertThat(s.rules("backend-sc-0")).containsExactly(
                "dnat ip addr . port to ip daddr . meta l4proto . th dport map @backends-sc-0");
        assertThat(s.elements(Ruleset.MASQUERADE_LOCAL_IPS)).containsOnlyKeys("203.0.113.7 . tcp . 80");
        assertThat(s.elements(Ruleset.MASQUERADE_LOCAL_NODEPORTS)).containsOnlyKeys("tcp . 30080");
        assertThat(s.rules("services")).contains(
                "ip saddr 10.0.0.0/8 ip daddr . meta l4proto . th dport vmap @short-circuit-ips",
                "ip daddr . meta l4proto . th dport @masquerade-local-ips fib saddr type local mark set mark or 0x4000"
                        + " ip daddr . meta l4proto . th dport vmap @short-circuit-ips");
        assertThat(s.elements(Ruleset.HEALTH_CHECK_NODEPORTS)).containsOnlyKeys("32000");
        assertThat(s.rules("filter-input")).contains("tcp dport @health-check-nodeports accept");
        assertThat(s.elements(Ruleset.NO_ENDPOINT_SERVICES)).isEmpty();
    }

    @Test
    void localPoliciesWithoutLocalEndpointsDropButStillShortCircuit() {
        Svc svc = new Svc(name("ns", "l", "p"), "10.96.0.4", 80);
        svc.type = ServiceType.NODE_PORT;
        svc.nodePort = 30081;
        svc.etp = TrafficPolicy.LOCAL;
        svc.itp = TrafficPolicy.LOCAL;
        Script s = script(new StateBuilder().add(svc, ep("10.1.0.1", 80)).build());
        assertThat(s.elements(Ruleset.NO_ENDPOINT_SERVICES)).containsOnly(entry("10.96.0.4 . tcp . 80", "drop"));
        assertThat(s.elements(Ruleset.NO_ENDPOINT_NODEPORTS)).containsOnly(entry("tcp . 30081", "drop"));
        assertThat(s.elements(Ruleset.SERVICE_IPS)).isEmpty();
        assertThat(s.elements(Ruleset.SHORT_CIRCUIT_NODEPORTS)).containsExactly(entry("tcp . 30081", "goto np-lb-sc-1"));
    }

    @Test
    void internalLocalPolicyUsesLocalEndpointsForTheClusterIp() {
        Svc svc = new Svc(name("ns", "il", "p"), "10.96.0.5", 80);
        svc.itp = TrafficPolicy.LOCAL;
        Script s = script(new StateBuilder().add(svc, ep("10.1.0.1", 80), localEp("10.1.0.2", 80)).build());
        assertThat(s.elements(Ruleset.SERVICE_IPS)).containsExactly(entry("10.96.0.5 . tcp . 80", "goto lb-1"));
        assertThat(s.slots("backends-")).containsExactly(entry("10.96.0.5 . tcp . 80 . 0", "10.1.0.2 . 80"));
    }

    @Test
    void terminatingEndpointsServeOnlyWhenNoneIsReady() {
        Script mixed = script(new StateBuilder().add(new Svc(name("ns", "t", "p"), "10.96.0.6", 80),
                Fixtures.terminating("10.1.0.1", 80, "n1"), ep("10.1.0.2", 80)).build());
        assertThat(mixed.slots("backends-")).containsExactly(entry("10.96.0.6 . tcp . 80 . 0", "10.1.0.2 . 80"));
        Script s = script(new StateBuilder().add(new Svc(name("ns", "t", "p"), "10.96.0.6", 80),
                Fixtures.terminating("10.1.0.1", 80, "n1")).build());
        assertThat(s.slots("backends-")).containsExactly(entry("10.96.0.6 . tcp . 80 . 0", "10.1.0.1 . 80"));
    }

    @Test
    void topologyHintsKeepSameZoneEndpointsWhenEveryEndpointHasHints() {
        StateBuilder b = new StateBuilder();
        b.node = new NodeInfo(Fixtures.NODE, Map.of(NodeInfo.ZONE_LABEL, "zone-a"), List.of(Fixtures.NODE_IP), List.of());
        b.add(new Svc(name("ns", "z", "p"), "10.96.0.7", 80),
                new Endpoint("10.1.0.1", 80, true, true, false, "n1", "zone-a", Set.of("zone-a"), Set.of()),
                new Endpoint("10.1.0.2", 80, true, true, false, "n2", "zone-b", Set.of("zone-b"), Set.of()));
        Script s = Script.parse(render(Fixtures.config(), b.build()));
        assertThat(s.slots("backends-")).containsExactly(entry("10.96.0.7 . tcp . 80 . 0", "10.1.0.1 . 80"));
    }

    @Test
    void sourceRangesLetOnlyTheirSourcesReachTheLoadBalancerIp() {
        Svc svc = new Svc(name("ns", "fw", "p"), "10.96.0.8", 443);
        svc.type = ServiceType.LOAD_BALANCER;
        svc.nodePort = 30443;
        svc.lbIPs.add("198.51.100.1");
        // The /24 holds the node's own IP, so the load-balancer IP may also be a source; the /26
        // lies inside the /16 and is left out (overlapping intervals are refused).
        svc.ranges.addAll(List.of("192.168.0.0/24", "172.16.0.0/16", "172.16.5.0/26", "2001:db8::/64"));
        Script s = script(new StateBuilder().add(svc, ep("10.1.0.1", 443)).build());
        assertThat(s.elements(Ruleset.FIREWALL_IPS)).containsOnlyKeys("198.51.100.1 . tcp . 443");
        assertThat(s.elements(Ruleset.FIREWALL_ALLOW)).containsOnlyKeys(
                "198.51.100.1 . tcp . 443 . 172.16.0.0/16", "198.51.100.1 . tcp . 443 . 192.168.0.0/24",
                "198.51.100.1 . tcp . 443 . 198.51.100.1");
        assertThat(s.rules("firewall-check")).containsExactly("ip daddr . meta l4proto . th dport @firewall-ips"
                + " ip daddr . meta l4proto . th dport . ip saddr != @firewall-allow drop");
        assertThat(s.rules("filter-prerouting-pre-dnat")).containsExactly("ct state new jump firewall-check");
    }

    @Test
    void clientIpAffinityRecordsTheChosenEndpointPerClientWithTheTimeout() {
        Svc svc = new Svc(name("ns", "aff", "p"), "10.96.0.10", 80);
        svc.affinity = 600;
        Script s = script(new StateBuilder().add(svc, ep("10.1.0.1", 80), ep("10.1.0.2", 80)).build());
        String set1 = Names.named("affinity", "ns/aff/tcp/p__10.1.0.1/80");
        String chain = Names.named("affinity-cluster", "ns/aff/tcp/p");
        String record = Names.named("affinity-record", "ns/aff/tcp/p");
        assertThat(s.commands).contains("add set ip pointsman " + set1
                + " { typeof ip saddr ; flags dynamic,timeout ; timeout 600s ; }");
        assertThat(s.elements(Ruleset.SERVICE_IPS)).containsExactly(entry("10.96.0.10 . tcp . 80", "goto " + chain));
        assertThat(s.rules(chain)).containsExactly(
                "ip saddr @" + set1 + " meta l4proto tcp dnat to 10.1.0.1:80",
                "ip saddr @" + Names.named("affinity", "ns/aff/tcp/p__10.1.0.2/80") + " meta l4proto tcp dnat to 10.1.0.2:80",
                "goto lb-2");
        assertThat(s.elements(Ruleset.AFFINITY_SERVICES)).containsExactly(entry("10.96.0.10 . tcp . 80", "goto " + record));
        assertThat(s.rules(record)).contains("ip daddr 10.1.0.1 th dport 80 update @" + set1 + " { ip saddr }");
        assertThat(s.rules("nat-postrouting")).containsExactly("jump affinity-record", "jump masquerading");
    }

    @Test
    void hairpinCoversEndpointsOnThisNodeOnly() {
        Script s = script(new StateBuilder().add(new Svc(name("ns", "h", "p"), "10.96.0.11", 80),
                ep("10.1.0.1", 80), localEp("10.1.0.2", 80), Endpoint.ready("10.1.0.3", 80, "")).build());
        assertThat(s.elements(Ruleset.HAIRPIN)).containsOnlyKeys("10.1.0.2 . 10.1.0.2", "10.1.0.3 . 10.1.0.3");
        assertThat(s.rules("masquerading")).containsExactly(
                "mark and 0x4000 != 0 mark set mark xor 0x4000 masquerade fully-random",
                "ct status dnat ip saddr . ip daddr @hairpin masquerade fully-random");
    }

    @Test
    void nodePortAddressesRestrictNodePortsToLocalAddressesInsideThem() {
        ProxyConfig config = Fixtures.config(b -> b.nodePortAddresses = List.of("192.168.0.0/16", "192.168.1.0/24",
                "primary"));
        Script s = Script.parse(render(config, new StateBuilder().build()));
        assertThat(s.commands).contains("add set ip pointsman nodeport-addresses { typeof ip daddr ; flags interval ;"
                + " comment \"addresses that accept NodePort traffic\" ; }");
        // The /24 and the primary address lie inside the /16.
        assertThat(s.elements(Ruleset.NODEPORT_ADDRESSES)).containsOnlyKeys("192.168.0.0/16");
        // The CIDRs hold no loopback address: no localhost NodePorts, no localnet block.
        assertThat(s.rules("services")).contains("fib daddr type local ip daddr @nodeport-addresses ip daddr != 127.0.0.0/8"
                + " meta l4proto . th dport vmap @service-nodeports");
        assertThat(s.rules("filter-input")).noneMatch(r -> r.contains("127.0.0.0/8"));

        Script primary = Script.parse(render(Fixtures.config(b -> b.nodePortAddresses = List.of("primary")),
                new StateBuilder().build()));
        assertThat(primary.elements(Ruleset.NODEPORT_ADDRESSES)).containsOnlyKeys(Fixtures.NODE_IP);
    }

    @Test
    void localhostNodePortsOffExcludesLoopback() {
        Script s = Script.parse(render(Fixtures.config(b -> b.localhostNodePorts = false), new StateBuilder().build()));
        assertThat(s.rules("services")).contains(
                "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports");
    }

    @Test
    void masqueradeSettingsShapeTheMarkRules() {
        Script all = Script.parse(render(Fixtures.config(b -> {
            b.masqueradeAll = true;
            b.masqueradeBit = 15;
        }), new StateBuilder().build()));
        assertThat(all.rules("services")).contains("ip daddr @cluster-ips mark set mark or 0x8000");
        assertThat(all.rules("masquerading")).contains("mark and 0x8000 != 0 mark set mark xor 0x8000 masquerade fully-random");

        Script bridge = Script.parse(render(Fixtures.config(b -> {
            b.detectLocalMode = "BridgeInterface";
            b.bridgeInterface = "cni0";
        }), new StateBuilder().build()));
        assertThat(bridge.rules("services")).contains("iifname != \"cni0\" ip daddr @cluster-ips mark set mark or 0x4000",
                "iifname \"cni0\" ip daddr . meta l4proto . th dport vmap @short-circuit-ips");

        Script nodeCidr = Script.parse(render(Fixtures.config(b -> b.detectLocalMode = "NodeCIDR"),
                new StateBuilder().build()));
        assertThat(nodeCidr.rules("services")).contains("ip saddr != 10.0.1.0/24 ip daddr @cluster-ips mark set mark or 0x4000");

        Script none = Script.parse(render(Fixtures.config(b -> b.clusterCIDRs = List.of()), new StateBuilder().build()));
        assertThat(none.rules("services")).noneMatch(r -> r.contains("@cluster-ips") || r.contains("vmap @short-circuit-ips")
                && !r.contains("fib saddr"));
    }

    @Test
    void sctpAndUdpKeysCarryTheirProtocol() {
        Script s = script(new StateBuilder()
                .add(new Svc(name("ns", "s", "p", Protocol.SCTP), "10.96.0.12", 3868), ep("10.1.0.1", 3868))
                .add(new Svc(name("ns", "u", "p", Protocol.UDP), "10.96.0.12", 53), ep("10.1.0.2", 53)).build());
        assertThat(s.elements(Ruleset.SERVICE_IPS)).containsOnlyKeys("10.96.0.12 . sctp . 3868", "10.96.0.12 . udp . 53");
        // One ClusterIP shared by two ports: one element.
        assertThat(s.elements(Ruleset.CLUSTER_IPS)).containsOnlyKeys("10.96.0.12");
    }

    @Test
    void dualStackServicesRenderBothTables() {
        Svc svc = new Svc(name("ns", "ds", "p"), "10.96.0.13", 80);
        svc.clusterIPs.add("fd00:96::13");
        svc.affinity = 100;
        String text = render(Fixtures.config(b -> b.clusterCIDRs = List.of("10.0.0.0/8", "fd00:10::/64")),
                new StateBuilder().add(svc, ep("10.1.0.1", 80), ep("fd00:10::1", 80)).build());
        int v6 = text.indexOf("add table ip6 pointsman");
        assertThat(v6).isPositive();
        Script four = Script.parse(text.substring(0, v6));
        Script six = Script.parse(text.substring(v6));
        assertThat(four.slots("backends-")).containsOnlyKeys("10.96.0.13 . tcp . 80 . 0");
        assertThat(six.slots("backends-")).containsExactly(entry("fd00:96::13 . tcp . 80 . 0", "fd00:10::1 . 80"));
        assertThat(six.rules("lb-1")).containsExactly("goto backend-0");
        assertThat(six.rules("backend-0")).containsExactly(
                "dnat ip6 addr . port to ip6 daddr . meta l4proto . th dport map @backends-0");
        assertThat(six.commands).contains("add map ip6 pointsman backends-0 { type ipv6_addr . inet_proto . inet_service"
                + " : ipv6_addr . inet_service ; }");
        assertThat(six.rules(Names.named("affinity-cluster", "ns/ds/tcp/p"))).contains("ip6 saddr @"
                + Names.named("affinity", "ns/ds/tcp/p__fd00.10..1/80") + " meta l4proto tcp dnat to [fd00:10::1]:80");
        assertThat(six.rules("services")).contains("ip6 saddr != fd00:10::/64 ip6 daddr @cluster-ips mark set mark or 0x4000",
                "fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports");
        assertThat(six.rules("filter-input")).noneMatch(r -> r.contains("127.0.0.0/8"));
    }

    @Test
    void namesAreCutToTheLengthLimitButStayUnique() {
        String id = "ns/" + "x".repeat(300) + "/tcp/p";
        String a = Names.named("affinity-record", id);
        String b = Names.named("affinity-record", id + "2");
        assertThat(a).hasSize(Names.MAX).endsWith("...");
        assertThat(a).isNotEqualTo(b);
        // Upstream's hash of the same name (shared/conformance/nftables/upstream/README.md).
        assertThat(Names.hash("ns1/svc1/tcp/p80")).isEqualTo("ULMVA6XW");
    }
}
