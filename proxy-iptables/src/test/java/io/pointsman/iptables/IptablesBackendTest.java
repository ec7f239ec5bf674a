package io.pointsman.iptables;

import static io.pointsman.iptables.Fixtures.ep;
import static io.pointsman.iptables.Fixtures.name;
import static io.pointsman.iptables.Fixtures.svc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackendProvider;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The backend's sync planning against upstream's full- and partial-sync goldens (02a..02h), without a kernel. */
class IptablesBackendTest {
    private static final ServicePortName SVC1 = name("ns1", "svc1", "p80");
    private static final ServicePortName SVC2 = name("ns2", "svc2", "p8080");
    private static final ServicePortName SVC3 = name("ns3", "svc3", "p80");
    private static final ServicePortName SVC4 = name("ns4", "svc4", "p80");

    private final RecordingNetfilter netfilter = new RecordingNetfilter();
    private final ProxyMetrics metrics = new ProxyMetrics("iptables");
    private final IptablesBackend backend = new IptablesBackend(
            new BackendContext(Fixtures.config(), metrics, netfilter, Set.of("nfacct"), false));

    /** The payload without the jump-rule inserts (not part of upstream's restore text). */
    private static String withoutJumps(String payload) {
        return payload.lines().filter(l -> !l.startsWith("-I ")).collect(Collectors.joining("\n", "", "\n"));
    }

    private static String golden(String file) {
        return Fixtures.conformance("upstream/" + file);
    }

    private static ChangeSet changed(ServicePortName... names) {
        return new ChangeSet(Set.of(names), false);
    }

    /** A gauge or counter value from the Prometheus text. */
    static double metric(ProxyMetrics metrics, String name, String... labels) {
        return metrics.scrape().lines()
                .filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                .filter(l -> List.of(labels).stream().allMatch(l::contains))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .findFirst().orElseThrow(() -> new AssertionError(name + " " + List.of(labels) + " not in scrape"));
    }

    private double natTotal() {
        return metric(metrics, "kubeproxy_sync_proxy_rules_iptables_total", "table=\"nat\"", "ip_family=\"IPv4\"");
    }

    private double natLast() {
        return metric(metrics, "kubeproxy_sync_proxy_rules_iptables_last", "table=\"nat\"", "ip_family=\"IPv4\"");
    }

    private static long natRuleLines(String payload) {
        return payload.substring(payload.indexOf("*nat")).lines().filter(l -> l.startsWith("-A ")).count();
    }

    /**
     * Our partial payload is upstream's for the same step cut down to some of its chains: every
     * chain we declare, upstream declares with the very same rules; every chain upstream deletes,
     * we delete. Answers the chains we declared, per table ("nat KUBE-SERVICES").
     */
    private static List<String> assertCutDownFrom(String ours, String upstream) {
        Map<String, Map<String, List<String>>> mine = Normalizer.parse(ours);
        Map<String, Map<String, List<String>>> theirs = Normalizer.parse(upstream);
        List<String> declared = new ArrayList<>();
        for (Map.Entry<String, Map<String, List<String>>> table : mine.entrySet()) {
            Map<String, List<String>> up = theirs.get(table.getKey());
            assertThat(up).as("table " + table.getKey()).isNotNull();
            for (Map.Entry<String, List<String>> chain : table.getValue().entrySet()) {
                if (chain.getKey().equals(Normalizer.DELETIONS)) {
                    continue;
                }
                assertThat(up).as(table.getKey() + " " + chain.getKey()).containsKey(chain.getKey());
                assertThat(chain.getValue()).as(table.getKey() + " " + chain.getKey())
                        .isEqualTo(up.get(chain.getKey()));
                declared.add(table.getKey() + " " + chain.getKey());
            }
        }
        for (Map.Entry<String, Map<String, List<String>>> table : theirs.entrySet()) {
            List<String> deletions = table.getValue().getOrDefault(Normalizer.DELETIONS, List.of());
            assertThat(mine.getOrDefault(table.getKey(), Map.of()).getOrDefault(Normalizer.DELETIONS, List.of()))
                    .as(table.getKey() + " deletions").isEqualTo(deletions);
        }
        // And as plain lines: nothing of ours is missing from upstream's.
        assertThat(Normalizer.normalize(ours).lines().toList())
                .isSubsetOf(Normalizer.normalize(upstream).lines().toList());
        return declared;
    }

    @Test
    void partialSyncsWriteAPartOfWhatUpstreamWrites() throws SyncException {
        Fixtures.State s = new Fixtures.State(Fixtures.node("192.168.0.2"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.0.1.1", 80))
                .add(svc("ns2", "svc2", "p8080", "172.30.0.42", 8080), ep("10.0.2.1", 8080));

        SyncResult r = backend.sync(s.build(), ChangeSet.NONE, true);
        // A full sync writes exactly what upstream writes.
        assertThat(Normalizer.normalize(withoutJumps(netfilter.last())))
                .isEqualTo(golden("02a-TestSyncProxyRulesRepeated-step1-initial-full-sync.txt"));
        assertThat(netfilter.saveCalls).containsExactlyInAnyOrder("IPv4/filter", "IPv4/nat");
        assertThat(r.counts()).containsEntry("fullSync", 1L).containsEntry("natRules", 15L);
        assertThat(natTotal()).isEqualTo(natRuleLines(netfilter.last())).isEqualTo(natLast());
        double total = natTotal();
        String h3 = ChainNames.serviceHash(SVC3);
        String h4 = ChainNames.serviceHash(SVC4);

        s.add(svc("ns3", "svc3", "p80", "172.30.0.43", 80), ep("10.0.3.1", 80));
        r = backend.sync(s.build(), changed(SVC3), false);
        assertThat(assertCutDownFrom(netfilter.last(), golden("02b-TestSyncProxyRulesRepeated-step2-partial-add-svc3.txt")))
                .containsExactlyInAnyOrder("nat KUBE-SERVICES", "nat KUBE-SEP-" + sepHash(SVC3, "10.0.3.1:80"), "nat KUBE-SVC-" + h3);
        assertThat(r.servicePortsWritten()).isEqualTo(1);
        assertThat(natTotal()).isEqualTo(total + 5);
        assertThat(natLast()).isEqualTo(natRuleLines(netfilter.last())).isEqualTo(4 + 4); // svc3's chains, and KUBE-SERVICES in full
        // Partial syncs read nothing back: deletions come from what was written.
        assertThat(netfilter.saveCalls).hasSize(2);

        s.remove(SVC2);
        backend.sync(s.build(), changed(SVC2), false);
        assertThat(assertCutDownFrom(netfilter.last(),
                golden("02c-TestSyncProxyRulesRepeated-step3-partial-delete-svc2.txt")))
                .containsExactly("nat KUBE-SERVICES"); // and svc2's two chains deleted, as upstream does
        assertThat(natTotal()).isEqualTo(total);

        s.add(svc("ns4", "svc4", "p80", "172.30.0.44", 80));
        backend.sync(s.build(), changed(SVC4), false);
        // Only the REJECT rule is new: the nat table is not written at all.
        assertThat(assertCutDownFrom(netfilter.last(),
                golden("02d-TestSyncProxyRulesRepeated-step4-add-svc4-no-endpoints.txt")))
                .containsExactlyInAnyOrder("filter KUBE-SERVICES");
        assertThat(netfilter.last()).doesNotContain("*nat");

        s.add(svc("ns4", "svc4", "p80", "172.30.0.44", 80), ep("10.0.4.1", 80));
        backend.sync(s.build(), changed(SVC4), false);
        assertThat(assertCutDownFrom(netfilter.last(),
                golden("02e-TestSyncProxyRulesRepeated-step5-add-svc4-endpoints.txt")))
                .containsExactlyInAnyOrder("filter KUBE-SERVICES", "nat KUBE-SERVICES", "nat KUBE-SEP-" + sepHash(SVC4,
                        "10.0.4.1:80"), "nat KUBE-SVC-" + h4);
        assertThat(natTotal()).isEqualTo(total + 5);

        s.add(svc("ns3", "svc3", "p80", "172.30.0.43", 80), ep("10.0.3.2", 80));
        backend.sync(s.build(), changed(SVC3), false);
        // An endpoint change leaves every dispatch chain alone.
        assertThat(assertCutDownFrom(netfilter.last(),
                golden("02f-TestSyncProxyRulesRepeated-step6-change-svc3-endpoint.txt")))
                .containsExactlyInAnyOrder("nat KUBE-SEP-DKCFIS26GWF2WLWC", "nat KUBE-SVC-" + h3); // and the old SEP deleted

        s.add(svc("ns3", "svc3", "p80", "172.30.0.43", 80), ep("10.0.3.2", 80), ep("10.0.3.3", 80));
        backend.sync(s.build(), changed(SVC3), false);
        // The endpoint chain that stays is not rewritten.
        assertThat(assertCutDownFrom(netfilter.last(),
                golden("02g-TestSyncProxyRulesRepeated-step7-add-svc3-endpoint.txt")))
                .containsExactlyInAnyOrder("nat KUBE-SEP-" + sepHash(SVC3, "10.0.3.3:80"), "nat KUBE-SVC-" + h3);
        assertThat(natTotal()).isEqualTo(total + 5 + 3);

        int restores = netfilter.payloads.size();
        r = backend.sync(s.build(), ChangeSet.NONE, false);
        assertThat(netfilter.payloads).as("nothing changed: nothing written").hasSize(restores);
        assertThat(r.servicePortsWritten()).isZero();
        assertThat(r.counts()).containsEntry("restored", 0L);
        assertThat(natTotal()).isEqualTo(total + 5 + 3);
        assertThat(natLast()).isZero();
    }

    private static String sepHash(ServicePortName name, String hostPort) {
        return ChainNames.endpointHash(name, hostPort);
    }

    @Test
    void aFailedRestoreNamesTheLineCountsItAndMakesTheNextSyncFull() throws SyncException {
        Fixtures.State s = new Fixtures.State(Fixtures.node("192.168.0.2"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.0.1.1", 80));
        backend.sync(s.build(), ChangeSet.NONE, true);
        s.add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.0.1.2", 80));
        netfilter.failNextAtLine = 3;
        assertThatThrownBy(() -> backend.sync(s.build(), changed(SVC1), false))
                .isInstanceOf(SyncException.class)
                .hasMessageContaining("IPv4 partial sync")
                .hasMessageContaining("line 3: :" + ChainNames.endpointChain(SVC1, "10.0.1.2:80") + " - [0:0]")
                .hasMessageContaining("the next sync is full");
        assertThat(metric(metrics, "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
                "ip_family=\"IPv4\"")).isEqualTo(1.0);
        assertThat(metric(metrics, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
                "ip_family=\"IPv4\"")).isEqualTo(1.0);

        // The kernel still holds the old endpoint's chain; the full sync finds it with save and deletes it.
        String oldSep = ChainNames.endpointChain(SVC1, "10.0.1.1:80");
        netfilter.saves.put("IPv4/nat", "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:" + oldSep
                + " - [0:0]\n:KUBE-SVC-" + ChainNames.serviceHash(SVC1) + " - [0:0]\n:KUBE-SEP-FOREIGNCHAIN000 - [0:0]\n"
                + "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\nCOMMIT\n");
        SyncResult r = backend.sync(s.build(), ChangeSet.NONE, false);
        assertThat(r.counts()).containsEntry("fullSync", 1L).containsEntry("deletedChains", 2L);
        assertThat(netfilter.last()).contains("-X " + oldSep + "\n", "-X KUBE-SEP-FOREIGNCHAIN000\n")
                .doesNotContain("-X KUBE-SVC-")
                .doesNotContain("-I PREROUTING")
                .contains("-I OUTPUT 1 -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
    }

    @Test
    void fullSyncInsertsOnlyMissingJumpsAndDeclaresKubeFirewallOnlyWhenAbsent() throws SyncException {
        IptablesBackend noLocalhost = new IptablesBackend(new BackendContext(
                configWithoutLocalhostNodePorts(), metrics, netfilter, Set.of(), false));
        netfilter.saves.put("IPv4/filter", "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n"
                + "-A INPUT -j KUBE-FIREWALL\n"
                + "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\""
                + " -j KUBE-PROXY-FIREWALL\nCOMMIT\n");
        noLocalhost.sync(new Fixtures.State(Fixtures.node("192.168.0.2")).build(), ChangeSet.NONE, true);
        String p = netfilter.last();
        String filter = p.substring(0, p.indexOf("*nat"));
        assertThat(filter).doesNotContain(":KUBE-FIREWALL").doesNotContain("-I INPUT 1 -j KUBE-FIREWALL")
                .doesNotContain("load balancer firewall\" -j KUBE-PROXY-FIREWALL\n-I INPUT")
                .contains("-I OUTPUT 1 -j KUBE-FIREWALL\n")
                .contains("-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer"
                        + " firewall\" -j KUBE-PROXY-FIREWALL\n");
        assertThat(filter.lines().filter(l -> l.startsWith("-I ")).count()).isEqualTo(JumpRules.ALL.stream()
                .filter(j -> j.table().equals("filter")).count() - 2);

        netfilter.saves.clear();
        RecordingNetfilter fresh = new RecordingNetfilter();
        new IptablesBackend(new BackendContext(configWithoutLocalhostNodePorts(), metrics, fresh, Set.of(), false))
                .sync(new Fixtures.State(Fixtures.node("192.168.0.2")).build(), ChangeSet.NONE, true);
        assertThat(fresh.last()).contains(":KUBE-FIREWALL - [0:0]\n");
    }

    private static io.pointsman.core.config.ProxyConfig configWithoutLocalhostNodePorts() {
        io.pointsman.core.config.ProxyConfig.Builder b = Fixtures.config().toBuilder();
        b.localhostNodePorts = false;
        return b.build();
    }

    @Test
    void ipv6FamilyStartsWhenTheStateHasIpv6() throws SyncException {
        ProxyState v4 = new Fixtures.State(Fixtures.node("192.168.0.2"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.0.1.1", 80)).build();
        backend.sync(v4, ChangeSet.NONE, true);
        assertThat(netfilter.families).containsExactly(IpFamily.IPv4);

        ProxyState dual = new Fixtures.State(Fixtures.node("192.168.0.2"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80).clusterIPs("172.30.0.41", "fd00::41"),
                        ep("10.0.1.1", 80), ep("fd00:1::1", 80)).build();
        SyncResult r = backend.sync(dual, changed(SVC1), false);
        // IPv4's rules are the same as before, so nothing is written for IPv4.
        assertThat(netfilter.families).containsExactly(IpFamily.IPv4, IpFamily.IPv6);
        // The new family's first sync is full even though the caller asked for a partial one.
        assertThat(r.counts()).containsEntry("IPv4.fullSync", 0L).containsEntry("IPv4.restored", 0L)
                .containsEntry("IPv6.fullSync", 1L);
        assertThat(netfilter.last()).contains("DNAT --to-destination [fd00:1::1]:80")
                .contains("-I PREROUTING 1 -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES")
                .doesNotContain("10.0.1.1").doesNotContain("-A KUBE-FIREWALL")
                .contains("-I INPUT 1 -j KUBE-FIREWALL"); // kubelet's jump is ensured in both families, as upstream
        assertThat(backend.renderFullSync(dual)).contains("# IPv6\n*filter").doesNotContain("-I ");
    }

    @Test
    void renderOnlyTouchesNothing() throws SyncException {
        IptablesBackend render = new IptablesBackend(
                new BackendContext(Fixtures.config(), metrics, netfilter, Set.of("nfacct"), true));
        render.sync(Fixtures.overall(), ChangeSet.NONE, true);
        assertThat(netfilter.payloads).isEmpty();
        assertThat(netfilter.saveCalls).isEmpty();
        assertThat(Normalizer.normalize(render.renderFullSync(Fixtures.overall())))
                .isEqualTo(Fixtures.conformance("cases/01-overall/expected.txt"));
    }

    @Test
    void providerIsFoundByMode() {
        ProxyBackendProvider provider = ServiceLoader.load(ProxyBackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(p -> p.mode().equals("iptables")).findFirst().orElseThrow();
        assertThat(provider.create(new BackendContext(Fixtures.config(), metrics, netfilter, Set.of(), true)).mode())
                .isEqualTo("iptables");
    }

    @Test
    void cleanupPayloadUnlinksAndDeletesOurChainsOnly() {
        SavedTable nat = SavedTable.parse("""
                # Generated by iptables-save
                *nat
                :PREROUTING ACCEPT [0:0]
                :POSTROUTING ACCEPT [0:0]
                :KUBE-SERVICES - [0:0]
                :KUBE-POSTROUTING - [0:0]
                :KUBE-MARK-MASQ - [0:0]
                :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
                :CNI-HOSTPORT - [0:0]
                :KUBE-SHARED - [0:0]
                -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
                -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
                -A POSTROUTING -j CNI-HOSTPORT
                -A KUBE-SERVICES -d 172.30.0.41/32 -j KUBE-SVC-XPGD46QRK7WJZT7O
                -A CNI-HOSTPORT -j KUBE-SHARED
                COMMIT
                """);
        assertThat(IptablesCleanup.payload("nat", nat)).isEqualTo("""
                *nat
                :KUBE-SERVICES - [0:0]
                :KUBE-POSTROUTING - [0:0]
                :KUBE-MARK-MASQ - [0:0]
                :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
                -D PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
                -D POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
                -X KUBE-SERVICES
                -X KUBE-POSTROUTING
                -X KUBE-MARK-MASQ
                -X KUBE-SVC-XPGD46QRK7WJZT7O
                COMMIT
                """);
        assertThat(IptablesCleanup.payload("mangle", SavedTable.parse("*mangle\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n")))
                .isNull();
    }
}
