package io.pointsman.iptables;

import static io.pointsman.iptables.Fixtures.ep;
import static io.pointsman.iptables.Fixtures.localEp;
import static io.pointsman.iptables.Fixtures.name;
import static io.pointsman.iptables.Fixtures.svc;
import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Golden text for each upstream feature, one service at a time (reference §2.3-2.10). */
class RendererFeaturesTest {
    private static final String H1 = "XPGD46QRK7WJZT7O"; // ns1/svc1:p80 tcp
    private static final String SEP1 = "KUBE-SEP-SXIVWICOYRO3J4NJ"; // 10.180.0.1:80
    private static final String NODEPORTS_ALL = "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports;"
            + " NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS";

    private static String render(RenderOptions options, ProxyState state) {
        IptablesRenderer r = new IptablesRenderer(options);
        r.render(state);
        return r.payload();
    }

    private static String render(ProxyState state) {
        return render(Fixtures.upstreamOptions(), state);
    }

    /** Rule lines of one chain in one table, in payload order. */
    static List<String> rules(String payload, String table, String chain) {
        List<String> out = new ArrayList<>();
        String current = null;
        for (String line : payload.split("\n")) {
            if (line.startsWith("*")) {
                current = line.substring(1);
            } else if (table.equals(current) && line.startsWith("-A " + chain + " ")) {
                out.add(line);
            }
        }
        return out;
    }

    static List<String> chains(String payload, String table) {
        List<String> out = new ArrayList<>();
        String current = null;
        for (String line : payload.split("\n")) {
            if (line.startsWith("*")) {
                current = line.substring(1);
            } else if (table.equals(current) && line.startsWith(":")) {
                out.add(line.substring(1, line.indexOf(' ')));
            }
        }
        return out;
    }

    private static RenderOptions options(Consumer<ProxyConfig.Builder> change, String... features) {
        ProxyConfig.Builder b = Fixtures.config().toBuilder();
        change.accept(b);
        return RenderOptions.from(b.build(), Set.of(features), IpFamily.IPv4);
    }

    private static ProxyState one(Fixtures.Svc svc, Endpoint... eps) {
        return new Fixtures.State(Fixtures.node("192.168.0.2")).add(svc, eps).build();
    }

    @Test
    void externalTrafficPolicyLocalWithALocalEndpoint() {
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.LOAD_BALANCER)
                        .etp(TrafficPolicy.LOCAL).nodePort(3001).hcnp(30001).lb("1.2.3.4"),
                ep("10.180.0.1", 80), localEp("10.180.0.2", 80)));
        String sepLocal = ChainNames.endpointChain(name("ns1", "svc1", "p80"), "10.180.0.2:80");
        assertThat(rules(p, "nat", "KUBE-EXT-" + H1)).containsExactly(
                "-A KUBE-EXT-" + H1 + " -m comment --comment \"pod traffic for ns1/svc1:p80 external destinations\""
                        + " -s 10.0.0.0/8 -j KUBE-SVC-" + H1,
                "-A KUBE-EXT-" + H1 + " -m comment --comment \"masquerade LOCAL traffic for ns1/svc1:p80 external"
                        + " destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
                "-A KUBE-EXT-" + H1 + " -m comment --comment \"route LOCAL traffic for ns1/svc1:p80 external"
                        + " destinations\" -m addrtype --src-type LOCAL -j KUBE-SVC-" + H1,
                "-A KUBE-EXT-" + H1 + " -j KUBE-SVL-" + H1);
        // Local chain: only the local endpoint, no masquerade (client IP preserved).
        assertThat(rules(p, "nat", "KUBE-SVL-" + H1)).containsExactly(
                "-A KUBE-SVL-" + H1 + " -m comment --comment \"ns1/svc1:p80 -> 10.180.0.2:80\" -j " + sepLocal);
        assertThat(rules(p, "nat", "KUBE-SVC-" + H1)).hasSize(3);
        assertThat(rules(p, "filter", "KUBE-NODEPORTS")).containsExactly(
                "-A KUBE-NODEPORTS -m comment --comment \"ns1/svc1:p80 health check node port\" -m tcp -p tcp"
                        + " --dport 30001 -j ACCEPT");
        assertThat(rules(p, "filter", "KUBE-EXTERNAL-SERVICES")).isEmpty();
        assertThat(chains(p, "nat")).contains("KUBE-SVL-" + H1, "KUBE-SVC-" + H1, "KUBE-EXT-" + H1, sepLocal, SEP1);
    }

    @Test
    void internalTrafficPolicyLocalWithoutLocalEndpointsDrops() {
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        IptablesRenderer.Rendered out = r.render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80)
                .itp(TrafficPolicy.LOCAL), ep("10.180.0.1", 80)));
        String p = r.payload();
        assertThat(rules(p, "filter", "KUBE-SERVICES")).containsExactly(
                "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no local endpoints\" -m tcp -p tcp"
                        + " -d 172.30.0.41 --dport 80 -j DROP");
        assertThat(rules(p, "nat", "KUBE-SERVICES")).containsExactly(NODEPORTS_ALL);
        assertThat(chains(p, "nat")).containsExactly("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
                "KUBE-MARK-MASQ");
        assertThat(out.noLocalInternal()).isEqualTo(1);
        assertThat(out.noLocalExternal()).isZero();
    }

    @Test
    void internalTrafficPolicyLocalWithALocalEndpointUsesTheLocalChain() {
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).itp(TrafficPolicy.LOCAL),
                ep("10.180.0.1", 80), localEp("10.180.0.2", 80)));
        String sepLocal = ChainNames.endpointChain(name("ns1", "svc1", "p80"), "10.180.0.2:80");
        assertThat(rules(p, "nat", "KUBE-SERVICES")).containsExactly(
                "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41"
                        + " --dport 80 -j KUBE-SVL-" + H1, NODEPORTS_ALL);
        assertThat(rules(p, "nat", "KUBE-SVL-" + H1)).containsExactly(
                "-A KUBE-SVL-" + H1 + " -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp"
                        + " -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
                "-A KUBE-SVL-" + H1 + " -m comment --comment \"ns1/svc1:p80 -> 10.180.0.2:80\" -j " + sepLocal);
        // Neither a cluster chain nor the remote endpoint's chain: nothing uses them.
        assertThat(chains(p, "nat")).doesNotContain("KUBE-SVC-" + H1, SEP1).contains(sepLocal);
    }

    @Test
    void bothPoliciesLocalOnAnExternalPortStillShortCircuitThroughTheClusterChain() {
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.NODE_PORT)
                .itp(TrafficPolicy.LOCAL).etp(TrafficPolicy.LOCAL).nodePort(3001), ep("10.180.0.1", 80)));
        // KUBE-EXT jumps to KUBE-SVC for pod and host traffic, so KUBE-SVC must exist with the remote endpoint.
        assertThat(rules(p, "nat", "KUBE-SVC-" + H1)).containsExactly(
                "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j " + SEP1);
        assertThat(rules(p, "nat", "KUBE-EXT-" + H1)).hasSize(3).allMatch(l -> !l.endsWith("KUBE-SVL-" + H1));
        assertThat(rules(p, "filter", "KUBE-SERVICES")).containsExactly(
                "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no local endpoints\" -m tcp -p tcp"
                        + " -d 172.30.0.41 --dport 80 -j DROP");
        assertThat(rules(p, "filter", "KUBE-EXTERNAL-SERVICES")).containsExactly(
                "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no local endpoints\""
                        + " -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP");
    }

    @Test
    void masqueradeAllMasqueradesEveryClusterIpPacket() {
        String p = render(options(b -> b.masqueradeAll = true, "nfacct"),
                one(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.180.0.1", 80)));
        assertThat(rules(p, "nat", "KUBE-SVC-" + H1)).first().isEqualTo(
                "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp"
                        + " -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ");
    }

    @Test
    void withoutALocalTrafficDetectorThereIsNoClusterIpMasqueradeAndNoPodShortCircuit() {
        String p = render(options(b -> b.clusterCIDRs = List.of(), "nfacct"),
                one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.NODE_PORT).etp(TrafficPolicy.LOCAL)
                        .nodePort(3001), localEp("10.180.0.1", 80)));
        assertThat(rules(p, "nat", "KUBE-SVC-" + H1)).containsExactly(
                "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j " + SEP1);
        assertThat(rules(p, "nat", "KUBE-EXT-" + H1)).noneMatch(l -> l.contains("pod traffic")).hasSize(3);
    }

    @Test
    void otherLocalTrafficDetectors() {
        ProxyState state = new Fixtures.State(new NodeInfo("test-node", Map.of(), List.of("192.168.0.2"),
                List.of("10.244.1.0/24"))).add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.180.0.1", 80))
                .build();
        assertThat(rules(render(options(b -> b.detectLocalMode = "NodeCIDR"), state), "nat", "KUBE-SVC-" + H1))
                .first().asString().endsWith("--dport 80 ! -s 10.244.1.0/24 -j KUBE-MARK-MASQ");
        assertThat(rules(render(options(b -> {
            b.detectLocalMode = "BridgeInterface";
            b.bridgeInterface = "cbr0";
        }), state), "nat", "KUBE-SVC-" + H1)).first().asString().endsWith("--dport 80 ! -i cbr0 -j KUBE-MARK-MASQ");
        assertThat(rules(render(options(b -> {
            b.detectLocalMode = "InterfaceNamePrefix";
            b.interfaceNamePrefix = "veth";
        }), state), "nat", "KUBE-SVC-" + H1)).first().asString().endsWith("--dport 80 ! -i veth+ -j KUBE-MARK-MASQ");
    }

    @Test
    void randomFullyAndNfacctFollowHostFeatures() {
        ProxyState state = one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.NODE_PORT).nodePort(3001),
                ep("10.180.0.1", 80));
        String with = render(options(b -> { }, "nfacct", "random-fully"), state);
        assertThat(rules(with, "nat", "KUBE-POSTROUTING")).last().isEqualTo(
                "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\""
                        + " -j MASQUERADE --random-fully");
        String without = render(options(b -> { }), state);
        assertThat(rules(without, "nat", "KUBE-POSTROUTING")).last().asString().endsWith("-j MASQUERADE");
        assertThat(rules(without, "nat", "KUBE-NODEPORTS")).containsExactly(
                "-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-" + H1);
        assertThat(rules(without, "filter", "KUBE-FORWARD")).first().isEqualTo(
                "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP");
    }

    @Test
    void noInvalidDropWhenConntrackIsTcpBeLiberal() {
        ProxyState state = one(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.180.0.1", 80));
        String liberal = render(options(b -> { }, io.pointsman.core.linux.StartupSysctls.FEATURE_TCP_BE_LIBERAL), state);
        assertThat(rules(liberal, "filter", "KUBE-FORWARD")).noneMatch(r -> r.contains("INVALID"))
                .hasSize(2);
    }

    @Test
    void localhostNodePortsOff() {
        String p = render(options(b -> b.localhostNodePorts = false, "nfacct"),
                one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.NODE_PORT).nodePort(3001),
                        ep("10.180.0.1", 80)));
        assertThat(chains(p, "filter")).doesNotContain("KUBE-FIREWALL");
        assertThat(rules(p, "nat", "KUBE-NODEPORTS")).hasSize(1);
        assertThat(rules(p, "nat", "KUBE-SERVICES")).last().isEqualTo(
                "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last"
                        + " rule in this chain\" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS");
    }

    @Test
    void nodePortAddressesSelectNodeIps() {
        ProxyState state = new Fixtures.State(Fixtures.node("192.168.0.2", "10.1.0.5", "2001:db8::1"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.NODE_PORT).nodePort(3001),
                        ep("10.180.0.1", 80))
                .build();
        String lastRule = "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be"
                + " the last rule in this chain\" -d ";
        String cidr = render(options(b -> b.nodePortAddresses = List.of("192.168.0.0/24", "2001:db8::/64"), "nfacct"),
                state);
        assertThat(rules(cidr, "nat", "KUBE-SERVICES")).endsWith(lastRule + "192.168.0.2 -j KUBE-NODEPORTS")
                .noneMatch(l -> l.contains("addrtype"));
        // 127.0.0.1 is not selected, so localhost NodePorts are off: no localnet block, no counting rule.
        assertThat(chains(cidr, "filter")).doesNotContain("KUBE-FIREWALL");
        assertThat(rules(cidr, "nat", "KUBE-NODEPORTS")).hasSize(1);

        String withLoopback = render(options(b -> b.nodePortAddresses = List.of("127.0.0.0/8", "10.0.0.0/8"),
                "nfacct"), state);
        assertThat(rules(withLoopback, "nat", "KUBE-SERVICES")).endsWith(
                lastRule + "127.0.0.1 -j KUBE-NODEPORTS", lastRule + "10.1.0.5 -j KUBE-NODEPORTS");
        assertThat(chains(withLoopback, "filter")).contains("KUBE-FIREWALL");

        String primary = render(options(b -> b.nodePortAddresses = List.of("primary")), state);
        assertThat(rules(primary, "nat", "KUBE-SERVICES")).endsWith(lastRule + "192.168.0.2 -j KUBE-NODEPORTS");

        String all = render(options(b -> b.nodePortAddresses = List.of("0.0.0.0/0")), state);
        assertThat(rules(all, "nat", "KUBE-SERVICES")).endsWith(NODEPORTS_ALL);
    }

    @Test
    void ipv6() {
        ServicePortName n = name("ns1", "svc1", "p80");
        ProxyState state = new Fixtures.State(Fixtures.node("192.168.0.2", "2001:db8::1"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80).clusterIPs("172.30.0.41", "fd00:30::41")
                        .type(ServiceType.NODE_PORT).nodePort(3001).externalIPs("192.168.99.1", "2001:db8:99::1"),
                        ep("10.180.0.1", 80), ep("fd00:180::1", 80))
                .add(svc("ns2", "svc2", "p80", "fd00:30::42", 80))
                .build();
        ProxyConfig.Builder b = Fixtures.config().toBuilder();
        b.clusterCIDRs = List.of("10.0.0.0/8", "fd00:180::/64");
        IptablesRenderer r = new IptablesRenderer(RenderOptions.from(b.build(), Set.of("nfacct"), IpFamily.IPv6));
        r.render(state);
        String p = r.payload();
        String sep = ChainNames.endpointChain(n, "[fd00:180::1]:80");
        String expected = String.join("\n",
                "*filter",
                ":KUBE-NODEPORTS - [0:0]",
                ":KUBE-SERVICES - [0:0]",
                ":KUBE-EXTERNAL-SERVICES - [0:0]",
                ":KUBE-FORWARD - [0:0]",
                ":KUBE-PROXY-FIREWALL - [0:0]",
                "-A KUBE-SERVICES -m comment --comment \"ns2/svc2:p80 has no endpoints\" -m tcp -p tcp -d fd00:30::42"
                        + " --dport 80 -j REJECT",
                "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts"
                        + " -j DROP",
                "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000"
                        + " -j ACCEPT",
                "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate"
                        + " RELATED,ESTABLISHED -j ACCEPT",
                "COMMIT",
                "*nat",
                ":KUBE-NODEPORTS - [0:0]",
                ":KUBE-SERVICES - [0:0]",
                ":KUBE-EXT-" + H1 + " - [0:0]",
                ":KUBE-MARK-MASQ - [0:0]",
                ":KUBE-POSTROUTING - [0:0]",
                ":" + sep + " - [0:0]",
                ":KUBE-SVC-" + H1 + " - [0:0]",
                "-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-" + H1,
                "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d fd00:30::41"
                        + " --dport 80 -j KUBE-SVC-" + H1,
                "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 external IP\" -m tcp -p tcp -d 2001:db8:99::1"
                        + " --dport 80 -j KUBE-EXT-" + H1,
                "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule"
                        + " in this chain\" -m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS",
                "-A KUBE-EXT-" + H1 + " -m comment --comment \"masquerade traffic for ns1/svc1:p80 external"
                        + " destinations\" -j KUBE-MARK-MASQ",
                "-A KUBE-EXT-" + H1 + " -j KUBE-SVC-" + H1,
                "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
                "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
                "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
                "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE",
                "-A " + sep + " -m comment --comment ns1/svc1:p80 -s fd00:180::1 -j KUBE-MARK-MASQ",
                "-A " + sep + " -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination"
                        + " [fd00:180::1]:80",
                "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d fd00:30::41"
                        + " --dport 80 ! -s fd00:180::/64 -j KUBE-MARK-MASQ",
                "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 -> [fd00:180::1]:80\" -j " + sep,
                "COMMIT", "");
        assertThat(Normalizer.normalize(p)).isEqualTo(expected);
    }

    @Test
    void udpAndSctpUseTheirOwnMatch() {
        ServicePortName udp = new ServicePortName("ns1", "dns", "dns", Protocol.UDP);
        ServicePortName sctp = new ServicePortName("ns1", "sig", "s", Protocol.SCTP);
        ProxyState state = new Fixtures.State(Fixtures.node("192.168.0.2"))
                .add(new Fixtures.Svc(udp, "172.30.0.10", 53), ep("10.180.0.10", 53))
                .add(new Fixtures.Svc(sctp, "172.30.0.11", 3868))
                .build();
        String p = render(state);
        String svc = ChainNames.serviceChain(udp);
        String sep = ChainNames.endpointChain(udp, "10.180.0.10:53");
        assertThat(rules(p, "nat", "KUBE-SERVICES")).first().isEqualTo(
                "-A KUBE-SERVICES -m comment --comment \"ns1/dns:dns cluster IP\" -m udp -p udp -d 172.30.0.10"
                        + " --dport 53 -j " + svc);
        assertThat(rules(p, "nat", sep)).last().isEqualTo(
                "-A " + sep + " -m comment --comment ns1/dns:dns -m udp -p udp -j DNAT --to-destination 10.180.0.10:53");
        assertThat(rules(p, "filter", "KUBE-SERVICES")).containsExactly(
                "-A KUBE-SERVICES -m comment --comment \"ns1/sig:s has no endpoints\" -m sctp -p sctp -d 172.30.0.11"
                        + " --dport 3868 -j REJECT");
    }

    @Test
    void probabilitiesSplitTrafficEvenly() {
        ServicePortName n = name("ns1", "svc1", "p80");
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80),
                ep("10.180.0.3", 80), ep("10.180.0.1", 80), ep("10.180.0.2", 80)));
        String c = "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 -> ";
        assertThat(rules(p, "nat", "KUBE-SVC-" + H1)).containsExactly(
                "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41"
                        + " --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
                c + "10.180.0.1:80\" -m statistic --mode random --probability 0.3333333333 -j "
                        + ChainNames.endpointChain(n, "10.180.0.1:80"),
                c + "10.180.0.2:80\" -m statistic --mode random --probability 0.5000000000 -j "
                        + ChainNames.endpointChain(n, "10.180.0.2:80"),
                c + "10.180.0.3:80\" -j " + ChainNames.endpointChain(n, "10.180.0.3:80"));
    }

    @Test
    void clientIpAffinityChecksRecentBeforeBalancing() {
        ServicePortName n = name("ns1", "svc1", "p80");
        String a = ChainNames.endpointChain(n, "10.180.0.1:80");
        String b = ChainNames.endpointChain(n, "10.180.0.2:80");
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).affinity(600),
                ep("10.180.0.1", 80), ep("10.180.0.2", 80)));
        String c = "-A KUBE-SVC-" + H1 + " -m comment --comment \"ns1/svc1:p80 -> ";
        assertThat(rules(p, "nat", "KUBE-SVC-" + H1)).containsSequence(
                c + "10.180.0.1:80\" -m recent --name " + a + " --rcheck --seconds 600 --reap -j " + a,
                c + "10.180.0.2:80\" -m recent --name " + b + " --rcheck --seconds 600 --reap -j " + b,
                c + "10.180.0.1:80\" -m statistic --mode random --probability 0.5000000000 -j " + a,
                c + "10.180.0.2:80\" -j " + b);
        assertThat(rules(p, "nat", a)).containsExactly(
                "-A " + a + " -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
                "-A " + a + " -m comment --comment ns1/svc1:p80 -m recent --name " + a + " --set -m tcp -p tcp -j DNAT"
                        + " --to-destination 10.180.0.1:80");
    }

    @Test
    void sourceRangeHoldingTheNodeIpAlsoAdmitsTheLoadBalancerIpAsSource() {
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.LOAD_BALANCER)
                .lb("1.2.3.4", "5.6.7.8").ranges("192.168.0.0/16", "203.0.113.0/25").nodePort(3001),
                ep("10.180.0.1", 80)));
        String fw = "-A KUBE-FW-" + H1 + " -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -s ";
        assertThat(rules(p, "nat", "KUBE-FW-" + H1)).containsExactly(
                fw + "192.168.0.0/16 -j KUBE-EXT-" + H1,
                fw + "203.0.113.0/25 -j KUBE-EXT-" + H1,
                fw + "1.2.3.4 -j KUBE-EXT-" + H1,
                fw + "5.6.7.8 -j KUBE-EXT-" + H1,
                "-A KUBE-FW-" + H1 + " -m comment --comment \"other traffic to ns1/svc1:p80 will be dropped by"
                        + " KUBE-PROXY-FIREWALL\"");
        assertThat(rules(p, "filter", "KUBE-PROXY-FIREWALL")).hasSize(2).allMatch(l -> l.endsWith("--dport 80 -j DROP"));
    }

    @Test
    void servingTerminatingEndpointsAreAFallback() {
        Endpoint terminating = new Endpoint("10.180.0.7", 80, false, true, true, "", "", Set.of(), Set.of());
        Endpoint notServing = new Endpoint("10.180.0.8", 80, false, false, true, "", "", Set.of(), Set.of());
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80), terminating, notServing));
        assertThat(rules(p, "nat", "KUBE-SVC-" + H1)).last().asString().contains("-> 10.180.0.7:80")
                .doesNotContain("statistic");
        assertThat(p).doesNotContain("10.180.0.8");
    }

    @Test
    void serviceWithoutEndpointsRejectsOnEveryAddress() {
        String p = render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80).type(ServiceType.LOAD_BALANCER)
                .externalIPs("192.168.99.1").lb("1.2.3.4").ranges("203.0.113.0/25").nodePort(3001).hcnp(30005)));
        String c = "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" ";
        assertThat(rules(p, "filter", "KUBE-EXTERNAL-SERVICES")).containsExactly(
                c + "-m tcp -p tcp -d 192.168.99.1 --dport 80 -j REJECT",
                c + "-m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
                c + "-m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT");
        // No endpoints: no firewall chain, hence no KUBE-PROXY-FIREWALL drop; eTP Cluster: no health check port.
        assertThat(rules(p, "filter", "KUBE-PROXY-FIREWALL")).isEmpty();
        assertThat(rules(p, "filter", "KUBE-NODEPORTS")).isEmpty();
        assertThat(chains(p, "nat")).hasSize(4);
    }

    @Test
    void oneServicePortRendersItsChainsTogetherAndItsDispatchRulesApart() {
        ProxyState state = Fixtures.overall();
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        IptablesRenderer.Rendered full = r.render(state);
        String fullPayload = r.payload();
        ServicePortName svc4 = name("ns4", "svc4", "p80");

        StringBuilder out = new StringBuilder("unrelated text before\n");
        ServiceRules one = r.renderService(state.services().get(svc4), state.endpointsOf(svc4), null, out);
        assertThat(one.chains()).containsExactly("KUBE-EXT-4SW47YFZTEDKD3PK", "KUBE-SVC-4SW47YFZTEDKD3PK",
                "KUBE-SEP-UKSFD7AGPMPPLUHC", "KUBE-SEP-C6EBXVWJJZMIWKLZ");
        for (int i = 0; i < one.chainCount(); i++) {
            // Each chain's lines sit together, exactly as the full render wrote that chain.
            String text = out.substring(one.spanStart(i), one.spanEnd(i));
            assertThat(List.of(text.split("\n"))).isEqualTo(rules(fullPayload, "nat", one.chain(i)));
            assertThat(one.digest(i)).isEqualTo(full.services().get(svc4).digest(i));
        }
        // Its dispatch rules are those of the full render that name it, in the same order.
        for (TopChain c : TopChain.DISPATCH) {
            List<String> mine = rules(fullPayload, c.table, c.chain).stream()
                    .filter(l -> l.contains("ns4/svc4:p80")).toList();
            assertThat(one.entry(c).lines().toList()).as(c.toString()).isEqualTo(mine);
        }
        int natLines = one.chains().stream().mapToInt(c -> rules(fullPayload, "nat", c).size()).sum()
                + (int) rules(fullPayload, "nat", "KUBE-SERVICES").stream().filter(l -> l.contains("ns4/svc4:")).count();
        assertThat(one.natRules()).isEqualTo(full.services().get(svc4).natRules()).isEqualTo(natLines);

        // A service port of the other family renders nothing.
        ServicePortName v6 = name("ns9", "v6", "p80");
        assertThat(r.renderService(new Fixtures.Svc(v6, "fd00::9", 80).build(), List.of(), null, out)).isNull();
        // Every top-level chain is its fixed rules plus each service port's dispatch rules in order.
        StringBuilder services = new StringBuilder();
        r.writeTopChain(TopChain.NAT_SERVICES, full.services().values(), services);
        assertThat(List.of(services.toString().split("\n"))).isEqualTo(rules(fullPayload, "nat", "KUBE-SERVICES"));
        assertThat(full.top().get(TopChain.NAT_SERVICES)).isEqualTo(ChainDigest.of(services, 0, services.length()));
    }

    @Test
    void anEndpointChainsDigestFollowsWhatFixesItsText() {
        // Endpoint chains are digested from their name and the affinity setting, not their text:
        // their text must depend on nothing else, and their shape must be what the digest claims.
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        r.useNode(Fixtures.node("192.168.0.2"));
        for (int affinity : new int[] {0, 300}) {
            for (Protocol protocol : Protocol.values()) {
                ServicePortName n = new ServicePortName("ns1", "svc1", "p80", protocol);
                Fixtures.Svc svc = new Fixtures.Svc(n, "172.30.0.41", 80).affinity(affinity)
                        .type(ServiceType.LOAD_BALANCER).lb("5.6.7.8").ranges("192.168.0.0/16").nodePort(30080)
                        .etp(TrafficPolicy.LOCAL).hcnp(30081);
                StringBuilder out = new StringBuilder();
                ServiceRules sr = r.renderService(svc.build(), List.of(ep("10.180.0.1", 80), localEp("10.180.0.2", 80),
                        Endpoint.ready("fd00::1", 80, "")), null, out);
                int seps = 0;
                for (int i = 0; i < sr.chainCount(); i++) {
                    if (!sr.chain(i).startsWith(ChainNames.ENDPOINT_PREFIX)) {
                        continue;
                    }
                    seps++;
                    String text = out.substring(sr.spanStart(i), sr.spanEnd(i));
                    ChainDigest fromText = ChainDigest.of(text, 0, text.length());
                    assertThat(sr.digest(i).sameShape(fromText)).as(text).isTrue();
                    String hostPort = text.substring(text.lastIndexOf(' ') + 1).strip();
                    assertThat(sr.chain(i)).isEqualTo(ChainNames.endpointChain(n, hostPort));
                    // Everything else in the text follows from the name's inputs and the affinity.
                    String ip = hostPort.substring(0, hostPort.lastIndexOf(':'));
                    String proto = protocol.lower();
                    assertThat(text).isEqualTo("-A " + sr.chain(i) + " -m comment --comment " + n + " -s " + ip
                            + " -j KUBE-MARK-MASQ\n-A " + sr.chain(i) + " -m comment --comment " + n
                            + (affinity > 0 ? " -m recent --name " + sr.chain(i) + " --set" : "")
                            + " -m " + proto + " -p " + proto + " -j DNAT --to-destination " + hostPort + "\n");
                }
                assertThat(seps).isEqualTo(2);
            }
        }
        assertThat(ChainDigest.ofEndpointChain("KUBE-SEP-A", true)).isNotEqualTo(
                ChainDigest.ofEndpointChain("KUBE-SEP-A", false)).isNotEqualTo(
                ChainDigest.ofEndpointChain("KUBE-SEP-B", true));
    }

    @Test
    void payloadCarriesExtrasAndDeletionsInTheirPlace() {
        IptablesRenderer r = new IptablesRenderer(Fixtures.upstreamOptions());
        r.render(one(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.180.0.1", 80)));
        StringBuilder out = new StringBuilder();
        r.writePayload(out, new IptablesRenderer.Extra(List.of(), List.of("-I INPUT 1 -j KUBE-FIREWALL"), List.of()),
                new IptablesRenderer.Extra(List.of(), List.of("-I OUTPUT 1 -j KUBE-SERVICES"),
                        List.of("KUBE-SEP-OLDOLDOLDOLDOLD1")));
        String p = out.toString();
        assertThat(p).contains("-I INPUT 1 -j KUBE-FIREWALL\nCOMMIT\n*nat\n")
                .contains(":KUBE-SEP-OLDOLDOLDOLDOLD1 - [0:0]\n-A ")
                .endsWith("-I OUTPUT 1 -j KUBE-SERVICES\n-X KUBE-SEP-OLDOLDOLDOLDOLD1\nCOMMIT\n");
    }
}
