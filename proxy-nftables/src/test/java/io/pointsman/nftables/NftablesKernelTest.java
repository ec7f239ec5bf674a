package io.pointsman.nftables;

import static io.pointsman.nftables.Fixtures.ep;
import static io.pointsman.nftables.Fixtures.name;
import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.ExecNft;
import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import io.pointsman.nftables.Fixtures.StateBuilder;
import io.pointsman.nftables.Fixtures.Svc;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The backend against a real kernel, each test in fresh network namespaces it deletes: what a
 * sync writes is read back with {@code nft -j list table} and compared with what was wanted.
 */
@Timeout(120)
class NftablesKernelTest {
    private static final ProxyConfig DUAL = Fixtures.config(c -> {
        c.clusterCIDRs = List.of("10.0.0.0/8", "fd00:10::/64");
        c.nodePortAddresses = List.of("primary", "127.0.0.0/8", "2001:db8::/32");
    });

    @BeforeEach
    void requireKernel() {
        Kernel.require("nft", "ip");
    }

    /** ExecNft inside a namespace, remembering every script it applied. */
    static final class Recording implements Nft {
        final ExecNft nft;
        final List<String> scripts = new ArrayList<>();

        Recording(Netns ns) {
            this.nft = new ExecNft(ns.prefix());
        }

        @Override
        public void apply(String script) throws NftException {
            nft.apply(script);
            scripts.add(script);
        }

        @Override
        public String listJson(List<String> what) throws NftException {
            return nft.listJson(what);
        }
    }

    private static NftablesBackend backend(ProxyConfig config, Nft nft) {
        return new NftablesBackend(config, new ProxyMetrics("nftables"), nft, () -> { });
    }

    /** The production setup: nft for structure, netlink for elements and read-back, in namespace {@code ns}. */
    private static NftablesBackend netlinkBackend(ProxyConfig config, Nft nft, Netns ns) throws Exception {
        return new NftablesBackend(config, new ProxyMetrics("nftables"), nft, NetlinkTables.open(ns.name()), () -> { });
    }

    /** The table of one family as the kernel holds it. */
    static Table read(Netns ns, IpFamily family) throws NftException {
        String json = new ExecNft(ns.prefix()).listJson(List.of("table", family == IpFamily.IPv4 ? "ip" : "ip6",
                NftOptions.TABLE));
        assertThat(json).as("table of %s in %s", family, ns.name()).isNotNull();
        return KernelReader.parse(json);
    }

    /**
     * Everything that makes a table, in comparable form: set signatures, static elements, and each
     * set's and chain's text as nft lists it (elements, handles and order of listing aside).
     */
    static Map<String, String> picture(Netns ns, IpFamily family) throws NftException {
        Map<String, String> out = new TreeMap<>();
        Table t = read(ns, family);
        t.sets.keySet().forEach(s -> out.put("signature " + s, t.signatures.get(s)));
        t.elements.forEach((s, els) -> out.put("elements " + s, new TreeMap<>(els).toString()));
        String text = ns.exec("nft", "list", "table", family == IpFamily.IPv4 ? "ip" : "ip6", NftOptions.TABLE);
        String block = null;
        StringBuilder body = new StringBuilder();
        boolean inElements = false;
        for (String line : text.split("\n")) {
            if (line.startsWith("\tset ") || line.startsWith("\tmap ") || line.startsWith("\tchain ")) {
                block = line.strip();
                body = new StringBuilder();
                continue;
            }
            if (block == null) {
                continue;
            }
            if (line.equals("\t}")) {
                out.put(block, body.toString());
                block = null;
                continue;
            }
            // Elements are compared above, as data: their listing order follows the hash.
            if (line.strip().startsWith("elements = {")) {
                inElements = !line.strip().endsWith("}");
                continue;
            }
            if (inElements) {
                inElements = !line.strip().endsWith("}");
                continue;
            }
            body.append(line.strip()).append('\n');
        }
        return out;
    }

    /** The entries that differ between two pictures, as "key: left | right". */
    static List<String> differences(Map<String, String> left, Map<String, String> right) {
        List<String> out = new ArrayList<>();
        java.util.Set<String> keys = new java.util.TreeSet<>(left.keySet());
        keys.addAll(right.keySet());
        for (String k : keys) {
            if (!java.util.Objects.equals(left.get(k), right.get(k))) {
                out.add(k + ": " + left.get(k) + " | " + right.get(k));
            }
        }
        return out;
    }

    /** The kernel holds exactly what a fresh build of {@code state} wants: elements, sets, chains, rule counts. */
    static void assertHolds(Netns ns, ProxyConfig config, IpFamily family, ProxyState state) throws NftException {
        Table kernel = read(ns, family);
        Table want = FamilySync.build(new Ruleset(NftOptions.from(config, family)), state).table();
        assertThat(kernel.sets.keySet()).as("%s sets", family).containsExactlyInAnyOrderElementsOf(want.sets.keySet());
        for (String s : want.sets.keySet()) {
            assertThat(kernel.declares(s, want.sets.get(s))).as("%s declaration of %s: %s", family, s,
                    kernel.signatures.get(s)).isTrue();
        }
        Map<String, Map<String, String>> wantElements = new TreeMap<>();
        want.elements.forEach((s, els) -> {
            if (!want.sets.get(s).dynamic()) {
                wantElements.put(s, new TreeMap<>(els));
            }
        });
        Map<String, Map<String, String>> haveElements = new TreeMap<>();
        kernel.elements.forEach((s, els) -> haveElements.put(s, new TreeMap<>(els)));
        assertThat(haveElements).as("%s elements", family).isEqualTo(wantElements);
        Map<String, Integer> wantRules = new TreeMap<>();
        want.chains.forEach((c, def) -> wantRules.put(c, def.rules().size()));
        Map<String, Integer> haveRules = new TreeMap<>();
        kernel.chains.forEach((c, def) -> haveRules.put(c, def.rules().size()));
        assertThat(haveRules).as("%s chains and their rule counts", family).isEqualTo(wantRules);
    }

    @Test
    void aFullSyncWritesExactlyTheWantedTable() throws Exception {
        try (Netns ns = Netns.create("nft-full")) {
            ProxyState state = Fixtures.upstreamOverall();
            try (NftablesBackend b = netlinkBackend(Fixtures.config(), new ExecNft(ns.prefix()), ns)) {
                b.sync(state, ChangeSet.NONE, true);
            }
            assertHolds(ns, Fixtures.config(), IpFamily.IPv4, state);
            // nft lists the load-balancing chains as it took them.
            assertThat(ns.exec("nft", "list", "chain", "ip", "pointsman", "lb-2"))
                    .contains("numgen random mod 2 vmap { 0 : goto backend-0, 1 : goto backend-1 }");
            assertThat(ns.exec("nft", "list", "chain", "ip", "pointsman", "backend-1"))
                    .contains("dnat ip to ip daddr . meta l4proto . th dport map @backends-1");
        }
    }

    @Test
    void dualStackStatesWriteBothTablesInOneTransaction() throws Exception {
        try (Netns ns = Netns.create("nft-dual")) {
            ProxyState state = new RandomStates(7, true).initial(40);
            Recording nft = new Recording(ns);
            backend(DUAL, nft).sync(state, ChangeSet.NONE, true);
            assertThat(nft.scripts).hasSize(1);
            assertHolds(ns, DUAL, IpFamily.IPv4, state);
            assertHolds(ns, DUAL, IpFamily.IPv6, state);
        }
    }

    @Test
    void randomDeltaSequencesLeaveTheKernelAsAFullSyncOfTheSameStateDoes() throws Exception {
        for (long seed = 101; seed <= 104; seed++) {
            // Seeds alternate: element changes through netlink (production), or everything through nft.
            boolean viaNetlink = seed % 2 == 1;
            try (Netns incremental = Netns.create("nft-delta"); Netns full = Netns.create("nft-ref")) {
                RandomStates states = new RandomStates(seed, true);
                Recording nft = new Recording(incremental);
                try (NftablesBackend b = viaNetlink ? netlinkBackend(DUAL, nft, incremental) : backend(DUAL, nft)) {
                    b.sync(states.initial(30), ChangeSet.NONE, true);
                    int netlinkSyncs = 0;
                    for (int i = 0; i < 40; i++) {
                        ChangeSet changes = states.step();
                        netlinkSyncs += b.sync(states.state(), changes, false).counts().getOrDefault("netlink", 0L);
                    }
                    if (viaNetlink) {
                        assertThat(netlinkSyncs).as("syncs that were element changes only, sent through netlink")
                                .isGreaterThan(5);
                    } else {
                        assertThat(nft.scripts.size()).as("one nft transaction per sync that changed something")
                                .isGreaterThan(20);
                    }
                }
                backend(DUAL, new ExecNft(full.prefix())).sync(states.state(), ChangeSet.NONE, true);
                for (IpFamily f : IpFamily.values()) {
                    assertThat(differences(picture(incremental, f), picture(full, f)))
                            .as("seed %d (%s), %s: after 40 delta syncs vs one full sync", seed,
                                    viaNetlink ? "netlink" : "nft", f).isEmpty();
                    assertHolds(incremental, DUAL, f, states.state());
                }
            }
        }
    }

    @Test
    void netlinkReadsBackWhatNftListsAsJson() throws Exception {
        try (Netns ns = Netns.create("nft-read")) {
            ProxyState state = new RandomStates(23, true).initial(60);
            backend(DUAL, new ExecNft(ns.prefix())).sync(state, ChangeSet.NONE, true);
            try (NetlinkTables netlink = NetlinkTables.open(ns.name())) {
                for (IpFamily f : IpFamily.values()) {
                    Table wanted = FamilySync.build(new Ruleset(NftOptions.from(DUAL, f)), state).table();
                    Table viaNetlink = netlink.read(f, NftOptions.TABLE, wanted.sets);
                    Table viaJson = read(ns, f);
                    assertThat(viaNetlink.chains.keySet()).isEqualTo(viaJson.chains.keySet());
                    viaJson.chains.forEach((c, def) -> assertThat(viaNetlink.chains.get(c).rules()).as("rules of %s", c)
                            .hasSameSizeAs(def.rules()));
                    for (String set : wanted.sets.keySet()) {
                        assertThat(viaNetlink.declares(set, wanted.sets.get(set))).as("%s %s: %s", f, set,
                                viaNetlink.signatures.get(set)).isTrue();
                        if (viaNetlink.unknown.contains(set)) {
                            assertThat(wanted.sets.get(set).flags()).contains("interval");
                            continue;
                        }
                        assertThat(viaNetlink.elements.getOrDefault(set, Map.of())).as("%s elements of %s", f, set)
                                .isEqualTo(viaJson.elements.getOrDefault(set, Map.of()));
                    }
                }
                assertThat(netlink.read(IpFamily.IPv4, "no-such-table", Map.of())).isNull();
            }
        }
    }

    @Test
    void aRestartReadsTheKernelBackAndChangesNoElement() throws Exception {
        try (Netns ns = Netns.create("nft-restart")) {
            ProxyState state = new RandomStates(11, true).initial(40);
            try (NftablesBackend b = netlinkBackend(DUAL, new ExecNft(ns.prefix()), ns)) {
                b.sync(state, ChangeSet.NONE, true);
            }
            Map<String, String> before = picture(ns, IpFamily.IPv4);

            Recording nft = new Recording(ns);
            try (NftablesBackend b = netlinkBackend(DUAL, nft, ns)) {
                var r = b.sync(state, ChangeSet.NONE, true);
                assertThat(r.counts()).containsEntry("IPv4.readBack", 1L).containsEntry("IPv4.elementsDeleted", 0L)
                        .containsEntry("IPv6.elementsDeleted", 0L);
            }
            // Only rules are rewritten (atomically: their text is not read back), and the small
            // interval sets refilled (netlink does not decode intervals): no service element moves.
            assertThat(nft.scripts).singleElement().satisfies(s -> {
                assertThat(s).doesNotContain("delete");
                assertThat(s.lines().filter(l -> l.startsWith("add element"))).allMatch(l ->
                        l.contains(Ruleset.NODEPORT_ADDRESSES) || l.contains(Ruleset.FIREWALL_ALLOW));
            });
            assertThat(picture(ns, IpFamily.IPv4)).isEqualTo(before);

            // Read back through nft instead: not even those.
            Recording nft2 = new Recording(ns);
            var r2 = backend(DUAL, nft2).sync(state, ChangeSet.NONE, true);
            assertThat(r2.counts()).containsEntry("IPv4.elementsAdded", 0L).containsEntry("IPv6.elementsAdded", 0L);
            assertThat(nft2.scripts).singleElement().satisfies(s -> assertThat(s).doesNotContain("element", "delete"));
        }
    }

    @Test
    void aFullSyncRepairsDriftInElementsSetsAndChains() throws Exception {
        try (Netns ns = Netns.create("nft-drift")) {
            ProxyState state = Fixtures.upstreamOverall();
            NftablesBackend b = netlinkBackend(Fixtures.config(), new ExecNft(ns.prefix()), ns);
            b.sync(state, ChangeSet.NONE, true);
            // Someone deletes an element, flushes a map and a chain, adds an element and a chain.
            ns.exec("nft", "delete", "element", "ip", "pointsman", "backends-1", "{ 172.30.0.44 . tcp . 80 }");
            ns.exec("nft", "flush", "map", "ip", "pointsman", "service-ips");
            ns.exec("nft", "flush", "chain", "ip", "pointsman", "services");
            ns.exec("nft", "add", "element", "ip", "pointsman", "cluster-ips", "{ 10.99.99.99 }");
            ns.exec("nft", "add", "chain", "ip", "pointsman", "stray");

            var r = b.sync(state, ChangeSet.NONE, true);
            b.close();
            assertThat(r.counts()).containsEntry("readBack", 1L).containsEntry("elementsDeleted", 1L);
            assertHolds(ns, Fixtures.config(), IpFamily.IPv4, state);
        }
    }

    @Test
    void theDriftCheckFindsHandEditsAndTheNextSyncRepairsThem() throws Exception {
        for (boolean viaNetlink : new boolean[] {true, false}) {
            try (Netns ns = Netns.create("nft-check")) {
                ProxyState state = Fixtures.upstreamOverall();
                NftablesBackend b = viaNetlink ? netlinkBackend(Fixtures.config(), new ExecNft(ns.prefix()), ns)
                        : backend(Fixtures.config(), new ExecNft(ns.prefix()));
                b.sync(state, ChangeSet.NONE, true);
                assertThat(b.checkDrift().isEmpty()).as("drift right after a sync (netlink %s)", viaNetlink).isTrue();

                ns.exec("nft", "delete", "element", "ip", "pointsman", "backends-1", "{ 172.30.0.44 . tcp . 80 }");
                ns.exec("nft", "flush", "chain", "ip", "pointsman", "services");
                ns.exec("nft", "add", "chain", "ip", "pointsman", "stray");
                ns.exec("nft", "flush", "chain", "ip", "pointsman", "filter-input");
                ns.exec("nft", "delete", "chain", "ip", "pointsman", "nodeport-endpoints-check");
                var report = b.checkDrift();
                assertThat(report.missing()).as("netlink %s", viaNetlink).containsExactly("IPv4 chain nodeport-endpoints-check");
                assertThat(report.modified()).as("netlink %s", viaNetlink).containsExactlyInAnyOrder(
                        "IPv4 map backends-1 (1 element(s))", "IPv4 chain services (0 rules, 9 written)",
                        "IPv4 chain filter-input (0 rules, 4 written)", "IPv4 chain stray (not written by Pointsman)");

                // A sync without changes, as the reconciler runs after a drift report.
                b.sync(state, ChangeSet.NONE, false);
                assertHolds(ns, Fixtures.config(), IpFamily.IPv4, state);
                assertThat(b.checkDrift().isEmpty()).isTrue();
                b.close();
            }
        }
    }

    @Test
    void changingAnAffinityTimeoutReplacesItsSetsInOneTransaction() throws Exception {
        try (Netns ns = Netns.create("nft-aff")) {
            Svc svc = new Svc(name("ns", "a", "p"), "10.96.0.1", 80);
            svc.affinity = 60;
            NftablesBackend b = backend(Fixtures.config(), new ExecNft(ns.prefix()));
            b.sync(new StateBuilder().add(svc, ep("10.1.0.1", 80), ep("10.1.0.2", 80)).build(), ChangeSet.NONE, true);
            svc.affinity = 3600;
            ProxyState after = new StateBuilder().add(svc, ep("10.1.0.1", 80), ep("10.1.0.2", 80)).build();
            b.sync(after, new ChangeSet(java.util.Set.of(svc.name), false), false);
            assertHolds(ns, Fixtures.config(), IpFamily.IPv4, after);
            assertThat(ns.exec("nft", "list", "set", "ip", "pointsman", Names.named("affinity", "ns/a/tcp/p__10.1.0.1/80")))
                    .contains("timeout 1h");
        }
    }

    @Test
    void cleanupDeletesPointsmansAndKubeProxysTablesOnly() throws Exception {
        try (Netns ns = Netns.create("nft-clean")) {
            ExecNft nft = new ExecNft(ns.prefix());
            backend(DUAL, nft).sync(new RandomStates(3, true).initial(10), ChangeSet.NONE, true);
            nft.apply("add table ip kube-proxy\nadd table ip6 kube-proxy\nadd table inet someone-else\n");
            ProxyMetrics metrics = new ProxyMetrics("nftables");
            assertThat(NftablesCleanup.run(nft, metrics)).as("cleanup failed").isFalse();
            assertThat(ns.exec("nft", "list", "tables").strip()).isEqualTo("table inet someone-else");
            // Nothing left: a second cleanup has nothing to do and succeeds.
            assertThat(NftablesCleanup.run(nft, metrics)).isFalse();
        }
    }
}
