package io.pointsman.iptables;

import static io.pointsman.iptables.Fixtures.ep;
import static io.pointsman.iptables.Fixtures.localEp;
import static io.pointsman.iptables.Fixtures.name;
import static io.pointsman.iptables.Fixtures.svc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.ExecNetfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The backend against a real kernel: iptables-restore and iptables-save run inside a network
 * namespace each test creates and deletes; the host's own rules are never touched.
 */
class IptablesKernelTest {
    private static final ServicePortName SVC1 = name("ns1", "svc1", "p80");
    private static final ServicePortName SVC2 = name("ns2", "svc2", "p8080");
    private static final ServicePortName SVC3 = name("ns3", "svc3", "p80");
    private static final ServicePortName SVC4 = name("ns4", "svc4", "p80");
    private static final ServicePortName SVC5 = name("ns5", "svc5", "p80");

    @BeforeEach
    void requireKernel() {
        Kernel.require("iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save", "ip");
    }

    /** A backend writing into {@code ns}; no nfacct counters exist there, so that feature is off. */
    private static IptablesBackend backend(Netns ns, ProxyMetrics metrics, Set<String> features) {
        return new IptablesBackend(new BackendContext(Fixtures.config(), metrics, new ExecNetfilter(ns.prefix()),
                features, false));
    }

    private static IptablesBackend backend(Netns ns) {
        return backend(ns, new ProxyMetrics("iptables"), Set.of());
    }

    /**
     * A table as the kernel holds it: chain name to its rules in order (built-in chains included);
     * chains with no rules map to an empty list. Independent of the order chains are printed in.
     */
    static Map<String, List<String>> kernelTable(Netns ns, String tool, String table) {
        Map<String, List<String>> chains = new TreeMap<>();
        for (String line : ns.exec(tool, "-t", table).split("\n")) {
            if (line.startsWith(":")) {
                chains.putIfAbsent(line.substring(1, line.indexOf(' ')), new ArrayList<>());
            } else if (line.startsWith("-A ")) {
                chains.computeIfAbsent(SavedTable.chainOf(line), k -> new ArrayList<>()).add(line);
            }
        }
        return chains;
    }

    static Map<String, Map<String, List<String>>> kernelState(Netns ns, String tool) {
        Map<String, Map<String, List<String>>> out = new LinkedHashMap<>();
        for (String table : List.of("filter", "nat", "mangle")) {
            out.put(table, kernelTable(ns, tool, table));
        }
        return out;
    }

    /** The state of {@code state} as a fresh backend's full sync leaves a fresh namespace. */
    private static Map<String, Map<String, List<String>>> freshFullSync(ProxyState state) throws SyncException {
        try (Netns fresh = Netns.create("iptfresh")) {
            backend(fresh).sync(state, ChangeSet.NONE, true);
            return kernelState(fresh, "iptables-save");
        }
    }

    @Test
    void fullSyncThenOneEndpointChangeRewritesOnlyThatService() throws Exception {
        try (Netns ns = Netns.create("ipt")) {
            IptablesBackend backend = backend(ns);
            Fixtures.State s = overallBuilder();
            backend.sync(s.build(), ChangeSet.NONE, true);

            Map<String, List<String>> nat = kernelTable(ns, "iptables-save", "nat");
            Map<String, List<String>> filter = kernelTable(ns, "iptables-save", "filter");
            // Every chain upstream declares for this input, and no other KUBE-* chain.
            String expected = Fixtures.conformance("cases/01-overall/expected.txt");
            String expectedNat = expected.substring(expected.indexOf("*nat"));
            Set<String> expectedChains = new TreeSet<>();
            expectedNat.lines().filter(l -> l.startsWith(":")).forEach(l -> expectedChains.add(l.substring(1,
                    l.indexOf(' '))));
            assertThat(new TreeSet<>(nat.keySet()).stream().filter(c -> c.startsWith("KUBE-")).toList())
                    .containsExactlyElementsOf(expectedChains);
            // Upstream's rule count, less the three nfacct counting rules (no nfacct here).
            long expectedRules = expectedNat.lines().filter(l -> l.startsWith("-A ")).count() - 3;
            assertThat(nat.entrySet().stream().filter(e -> e.getKey().startsWith("KUBE-"))
                    .mapToLong(e -> e.getValue().size()).sum()).isEqualTo(expectedRules);
            assertThat(nat.get("KUBE-SEP-I77PXRDZVX7PMWMN")).containsExactly(
                    "-A KUBE-SEP-I77PXRDZVX7PMWMN -s 10.180.0.3/32 -m comment --comment \"ns5/svc5:p80\""
                            + " -j KUBE-MARK-MASQ",
                    "-A KUBE-SEP-I77PXRDZVX7PMWMN -p tcp -m comment --comment \"ns5/svc5:p80\" -m recent --set"
                            + " --name KUBE-SEP-I77PXRDZVX7PMWMN --mask 255.255.255.255 --rsource -m tcp"
                            + " -j DNAT --to-destination 10.180.0.3:80");
            // The jumps from the built-in chains, as upstream ensures them.
            assertThat(nat.get("PREROUTING")).containsExactly(
                    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES");
            assertThat(nat.get("POSTROUTING")).containsExactly(
                    "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING");
            assertThat(filter.get("INPUT")).containsExactly(
                    "-A INPUT -j KUBE-FIREWALL",
                    "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\""
                            + " -j KUBE-PROXY-FIREWALL",
                    "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
                    "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible"
                            + " service portals\" -j KUBE-EXTERNAL-SERVICES");
            assertThat(filter.get("KUBE-FIREWALL")).hasSize(1);

            // A second full sync finds the jumps in place and adds none.
            backend.sync(s.build(), ChangeSet.NONE, true);
            Map<String, Map<String, List<String>>> before = kernelState(ns, "iptables-save");
            assertThat(before.get("filter")).isEqualTo(filter);
            assertThat(before.get("nat")).isEqualTo(nat);

            // svc4's endpoint 10.180.0.4 becomes 10.180.0.6.
            s.add(svc4(), ep("10.180.0.6", 80), localEp("10.180.0.5", 80));
            backend.sync(s.build(), new ChangeSet(Set.of(SVC4), false), false);
            Map<String, Map<String, List<String>>> after = kernelState(ns, "iptables-save");

            String oldSep = ChainNames.endpointChain(SVC4, "10.180.0.4:80");
            String newSep = ChainNames.endpointChain(SVC4, "10.180.0.6:80");
            assertThat(after.get("nat")).doesNotContainKey(oldSep).containsKey(newSep);
            List<String> differences = difference(before, after);
            assertThat(differences).isNotEmpty().allSatisfy(line -> assertThat(line)
                    .containsAnyOf("ns4/svc4:p80", oldSep, newSep));
            assertThat(after.get("filter")).isEqualTo(before.get("filter"));
            assertThat(after).isEqualTo(freshFullSync(s.build()));
        }
    }

    /** Lines (rules, and chain names as ":CHAIN") present in one state and not the other. */
    private static List<String> difference(Map<String, Map<String, List<String>>> a,
                                           Map<String, Map<String, List<String>>> b) {
        List<String> out = new ArrayList<>();
        for (String table : a.keySet()) {
            Map<String, List<String>> x = a.get(table);
            Map<String, List<String>> y = b.get(table);
            Set<String> chains = new TreeSet<>(x.keySet());
            chains.addAll(y.keySet());
            for (String chain : chains) {
                if (!x.containsKey(chain) || !y.containsKey(chain)) {
                    out.add(":" + chain);
                }
                List<String> rx = x.getOrDefault(chain, List.of());
                List<String> ry = y.getOrDefault(chain, List.of());
                if (!rx.equals(ry)) {
                    rx.stream().filter(r -> !ry.contains(r)).forEach(out::add);
                    ry.stream().filter(r -> !rx.contains(r)).forEach(out::add);
                    if (rx.size() == ry.size() && out.isEmpty()) {
                        out.add("reordered " + chain);
                    }
                }
            }
        }
        return out;
    }

    @Test
    void partialSyncsEndWhereAFreshFullSyncDoes() throws Exception {
        try (Netns ns = Netns.create("ipt")) {
            IptablesBackend backend = backend(ns);
            Fixtures.State s = new Fixtures.State(Fixtures.node("192.168.0.2"))
                    .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.0.1.1", 80))
                    .add(svc("ns2", "svc2", "p8080", "172.30.0.42", 8080), ep("10.0.2.1", 8080));
            backend.sync(s.build(), ChangeSet.NONE, true);

            List<Step> steps = List.of(
                    new Step("add svc3", SVC3, () -> s.add(svc("ns3", "svc3", "p80", "172.30.0.43", 80),
                            ep("10.0.3.1", 80))),
                    new Step("delete svc2", SVC2, () -> s.remove(SVC2)),
                    new Step("add svc4 without endpoints", SVC4, () -> s.add(svc("ns4", "svc4", "p80",
                            "172.30.0.44", 80))),
                    new Step("svc4 endpoints", SVC4, () -> s.add(svc("ns4", "svc4", "p80", "172.30.0.44", 80),
                            ep("10.0.4.1", 80))),
                    new Step("change svc3 endpoint", SVC3, () -> s.add(svc("ns3", "svc3", "p80", "172.30.0.43", 80),
                            ep("10.0.3.2", 80))),
                    new Step("add svc3 endpoint", SVC3, () -> s.add(svc("ns3", "svc3", "p80", "172.30.0.43", 80),
                            ep("10.0.3.2", 80), ep("10.0.3.3", 80))),
                    new Step("add LB with source ranges, eTP Local", SVC5, () -> s.add(lbLocal(),
                            ep("10.0.5.1", 80), localEp("10.0.5.2", 80))),
                    new Step("LB loses its local endpoint", SVC5, () -> s.add(lbLocal(), ep("10.0.5.1", 80))),
                    new Step("LB becomes a plain ClusterIP", SVC5, () -> s.add(svc("ns5", "svc5", "p80",
                            "172.30.0.45", 80), ep("10.0.5.1", 80))),
                    new Step("delete svc1", SVC1, () -> s.remove(SVC1)),
                    new Step("nothing changed", null, () -> { }));
            for (Step step : steps) {
                step.change().run();
                ChangeSet changes = step.service() == null ? ChangeSet.NONE
                        : new ChangeSet(Set.of(step.service()), false);
                assertThat(backend.sync(s.build(), changes, false).counts()).as(step.what())
                        .containsEntry("fullSync", 0L);
                assertThat(kernelState(ns, "iptables-save")).as("after " + step.what())
                        .isEqualTo(freshFullSync(s.build()));
            }
        }
    }

    private record Step(String what, ServicePortName service, Runnable change) {
    }

    private static Fixtures.Svc lbLocal() {
        return svc("ns5", "svc5", "p80", "172.30.0.45", 80).type(ServiceType.LOAD_BALANCER).etp(TrafficPolicy.LOCAL)
                .lb("5.6.7.8").ranges("192.168.0.0/16").nodePort(30005).hcnp(30006).affinity(300);
    }

    private static Fixtures.Svc svc4() {
        return svc("ns4", "svc4", "p80", "172.30.0.44", 80).type(ServiceType.NODE_PORT).externalIPs("192.168.99.33");
    }

    private static Fixtures.State overallBuilder() {
        ProxyState o = Fixtures.overall();
        Fixtures.State s = new Fixtures.State(o.node());
        o.services().values().forEach(svc -> s.add(svc, o.endpointsOf(svc.name()).toArray(new
                io.pointsman.core.model.Endpoint[0])));
        return s;
    }

    @Test
    void aFailedPartialSyncKeepsServingAndTheNextFullSyncRepairs() throws Exception {
        try (Netns ns = Netns.create("ipt")) {
            ProxyMetrics metrics = new ProxyMetrics("iptables");
            IptablesBackend backend = backend(ns, metrics, Set.of());
            Fixtures.State s = new Fixtures.State(Fixtures.node("192.168.0.2"))
                    .add(svc("ns3", "svc3", "p80", "172.30.0.43", 80), ep("10.0.3.1", 80))
                    .add(svc("ns4", "svc4", "p80", "172.30.0.44", 80), ep("10.0.4.1", 80));
            backend.sync(s.build(), ChangeSet.NONE, true);
            // As upstream's test does: something outside makes svc3's chain refer to svc4's endpoint chain.
            String svc3Chain = ChainNames.serviceChain(SVC3);
            String svc4Sep = ChainNames.endpointChain(SVC4, "10.0.4.1:80");
            ns.exec("iptables", "-w", "-t", "nat", "-A", svc3Chain, "-j", svc4Sep);
            Map<String, Map<String, List<String>>> before = kernelState(ns, "iptables-save");

            s.remove(SVC4);
            assertThatThrownBy(() -> backend.sync(s.build(), new ChangeSet(Set.of(SVC4), false), false))
                    .isInstanceOf(SyncException.class)
                    .hasMessageContaining("IPv4 partial sync")
                    .hasMessageContaining("-X " + svc4Sep)
                    .hasMessageContaining("the next sync is full");
            assertThat(IptablesBackendTest.metric(metrics,
                    "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total", "IPv4")).isEqualTo(1.0);
            // The failing nat table was not changed.
            assertThat(kernelState(ns, "iptables-save").get("nat")).isEqualTo(before.get("nat"));

            // The next sync, asked as partial with nothing new, is full and repairs everything.
            assertThat(backend.sync(s.build(), ChangeSet.NONE, false).counts()).containsEntry("fullSync", 1L)
                    .containsEntry("deletedChains", 2L);
            assertThat(kernelState(ns, "iptables-save")).isEqualTo(freshFullSync(s.build()));
        }
    }

    @Test
    void aBadRuleFailsNamingTheLineAndThePreviousRulesStay() throws Exception {
        try (Netns ns = Netns.create("ipt")) {
            backend(ns).sync(Fixtures.overall(), ChangeSet.NONE, true);
            Map<String, Map<String, List<String>>> before = kernelState(ns, "iptables-save");

            // Claiming nfacct on a host without the counters makes the kernel refuse the counting rules.
            IptablesBackend wrong = backend(ns, new ProxyMetrics("iptables"), Set.of("nfacct"));
            assertThatThrownBy(() -> wrong.sync(Fixtures.overall(), ChangeSet.NONE, true))
                    .isInstanceOf(SyncException.class)
                    .hasMessageContaining("IPv4 full sync")
                    .hasMessageContaining("-m nfacct --nfacct-name ct_state_invalid_dropped_pkts")
                    .hasCauseInstanceOf(RestoreException.class);
            assertThat(kernelState(ns, "iptables-save")).isEqualTo(before);

            // The netfilter door itself names the rejected line.
            ExecNetfilter netfilter = new ExecNetfilter(ns.prefix());
            String bad = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m no-such-match -j RETURN\nCOMMIT\n";
            assertThatThrownBy(() -> netfilter.restore(IpFamily.IPv4, bad))
                    .isInstanceOfSatisfying(RestoreException.class, e -> {
                        assertThat(e.line()).isEqualTo(3);
                        assertThat(e.lineText()).isEqualTo("-A KUBE-SERVICES -m no-such-match -j RETURN");
                    });
            // A missing jump target is found when the table is committed; the tool's complaint names the chain.
            String dangling = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-NO-SUCH-CHAIN\nCOMMIT\n";
            assertThatThrownBy(() -> netfilter.restore(IpFamily.IPv4, dangling))
                    .isInstanceOf(RestoreException.class).hasMessageContaining("KUBE-NO-SUCH-CHAIN");
            assertThat(kernelState(ns, "iptables-save")).isEqualTo(before);
        }
    }

    @Test
    void dualStackWritesBothFamilies() throws Exception {
        try (Netns ns = Netns.create("ipt")) {
            ProxyConfig.Builder b = Fixtures.config().toBuilder();
            b.clusterCIDRs = List.of("10.0.0.0/8", "fd00:10::/64");
            IptablesBackend backend = new IptablesBackend(new BackendContext(b.build(), new ProxyMetrics("iptables"),
                    new ExecNetfilter(ns.prefix()), Set.of(), false));
            ProxyState state = new Fixtures.State(Fixtures.node("192.168.0.2", "2001:db8::2"))
                    .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80).clusterIPs("172.30.0.41", "fd00:30::41")
                                    .type(ServiceType.NODE_PORT).nodePort(30080),
                            ep("10.0.1.1", 80), ep("fd00:10::1", 80))
                    .build();
            backend.sync(state, ChangeSet.NONE, true);
            String v6Sep = ChainNames.endpointChain(SVC1, "[fd00:10::1]:80");
            Map<String, List<String>> nat6 = kernelTable(ns, "ip6tables-save", "nat");
            assertThat(nat6.get(v6Sep)).last().asString().endsWith("-j DNAT --to-destination [fd00:10::1]:80");
            assertThat(nat6.get("KUBE-SERVICES")).last().asString()
                    .contains("! -d ::1/128").contains("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS");
            assertThat(nat6.get("PREROUTING")).hasSize(1);
            assertThat(kernelTable(ns, "iptables-save", "nat")).containsKey(
                    ChainNames.endpointChain(SVC1, "10.0.1.1:80")).doesNotContainKey(v6Sep);
        }
    }

    @Test
    void cleanupRemovesEveryKubeChainAndJump() throws Exception {
        try (Netns ns = Netns.create("ipt")) {
            ProxyConfig.Builder b = Fixtures.config().toBuilder();
            b.clusterCIDRs = List.of("10.0.0.0/8", "fd00:10::/64");
            BackendContext ctx = new BackendContext(b.build(), new ProxyMetrics("iptables"),
                    new ExecNetfilter(ns.prefix()), Set.of(), false);
            new IptablesBackend(ctx).sync(Fixtures.overall(), ChangeSet.NONE, true);
            ns.exec("iptables", "-w", "-t", "mangle", "-N", "KUBE-PROXY-CANARY");
            ns.exec("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "10.9.0.0/16", "-j", "MASQUERADE");
            assertThat(ns.exec("iptables-save")).contains("KUBE-");
            assertThat(ns.exec("ip6tables-save")).contains("KUBE-");

            assertThat(new IptablesBackendProvider().cleanup(ctx)).as("anything failed").isFalse();
            assertThat(ns.exec("iptables-save")).doesNotContain("KUBE-")
                    .contains("-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE");
            assertThat(ns.exec("ip6tables-save")).doesNotContain("KUBE-");
            // Nothing left to do: a second cleanup succeeds too.
            assertThat(new IptablesBackendProvider().cleanup(ctx)).isFalse();
        }
    }
}
