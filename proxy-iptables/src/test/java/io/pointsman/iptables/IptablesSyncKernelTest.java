package io.pointsman.iptables;

import static io.pointsman.iptables.Fixtures.ep;
import static io.pointsman.iptables.Fixtures.localEp;
import static io.pointsman.iptables.IptablesKernelTest.kernelState;
import static io.pointsman.iptables.IptablesKernelTest.kernelTable;
import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.testing.Netns;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Partial syncs, drift repair, restart and takeover against a real kernel, with both iptables
 * flavours. Each test writes only into namespaces it creates; "a fresh full sync" is always one
 * made by a new backend into a new namespace.
 */
class IptablesSyncKernelTest {
    private static final ServicePortName SVC1 = Fixtures.name("ns1", "svc1", "p80");
    private static final ServicePortName SVC3 = Fixtures.name("ns3", "svc3", "p80");
    private static final ServicePortName SVC4 = Fixtures.name("ns4", "svc4", "p80");
    private static final ServicePortName SVC5 = Fixtures.name("ns5", "svc5", "p80");

    private static IptablesBackend backend(Netns ns, Flavour flavour, ProxyMetrics metrics, ProxyConfig config,
                                           TeeNetfilter[] tee) {
        TeeNetfilter t = new TeeNetfilter(flavour.netfilter(ns));
        if (tee != null) {
            tee[0] = t;
        }
        return new IptablesBackend(new BackendContext(config, metrics, t, Set.of(), false));
    }

    private static IptablesBackend backend(Netns ns, Flavour flavour) {
        return backend(ns, flavour, new ProxyMetrics("iptables"), Fixtures.config(), null);
    }

    private static Map<String, Map<String, List<String>>> state(Netns ns, Flavour flavour) {
        return kernelState(ns, flavour.saveTool(false));
    }

    /** What a new backend's full sync of {@code state} leaves in a new namespace, after {@code prepare}. */
    private static Map<String, Map<String, List<String>>> freshFullSync(ProxyState state, Flavour flavour,
                                                                          Consumer<Netns> prepare)
            throws SyncException {
        try (Netns fresh = Netns.create("iptfresh")) {
            prepare.accept(fresh);
            backend(fresh, flavour).sync(state, ChangeSet.NONE, true);
            return state(fresh, flavour);
        }
    }

    private static Map<String, Map<String, List<String>>> freshFullSync(ProxyState state, Flavour flavour)
            throws SyncException {
        return freshFullSync(state, flavour, ns -> { });
    }

    // --- partial syncs ------------------------------------------------------------------------

    /** Service ports the random walk changes; one is UDP. */
    private static final List<ServicePortName> POOL = List.of(
            Fixtures.name("ns1", "a", "p80"), Fixtures.name("ns1", "b", "http"), Fixtures.name("ns2", "c", "p80"),
            new ServicePortName("ns2", "dns", "dns", Protocol.UDP), Fixtures.name("ns3", "e", "p8080"),
            Fixtures.name("ns3", "f", "p80"), Fixtures.name("ns4", "g", ""), Fixtures.name("ns4", "h", "p443"));

    /** Gives {@code name} a random shape and random endpoints, or removes it; dual-stack ones half the time. */
    private static void mutate(Fixtures.State s, ServicePortName name, Random rnd, boolean dualStack) {
        int i = POOL.indexOf(name);
        int kind = rnd.nextInt(8);
        if (kind == 0) {
            s.remove(name);
            return;
        }
        Fixtures.Svc svc = new Fixtures.Svc(name, "172.30.1." + (i + 1), 80 + i);
        boolean v6 = dualStack && rnd.nextBoolean();
        if (v6) {
            svc.clusterIPs("172.30.1." + (i + 1), "fd00:30::" + (i + 1));
        }
        switch (kind) {
            case 2 -> svc.type(ServiceType.NODE_PORT).nodePort(30100 + i).externalIPs("192.168.99." + (10 + i));
            case 3 -> svc.type(ServiceType.LOAD_BALANCER).nodePort(30100 + i).lb("5.6.7." + (i + 1))
                    .ranges("192.168.0.0/16", "203.0.113.0/24").etp(TrafficPolicy.LOCAL).hcnp(31100 + i);
            case 4 -> svc.affinity(300 + rnd.nextInt(2));
            case 5 -> svc.itp(TrafficPolicy.LOCAL);
            case 6 -> svc.type(ServiceType.LOAD_BALANCER).nodePort(30100 + i).lb("5.6.7." + (i + 1));
            case 7 -> svc.type(ServiceType.NODE_PORT).nodePort(30100 + i).etp(TrafficPolicy.LOCAL).affinity(60);
            default -> { }
        }
        List<Endpoint> eps = new ArrayList<>();
        Set<Integer> hosts = new HashSet<>();
        for (int k = rnd.nextInt(5); k > 0; k--) {
            int host = 1 + rnd.nextInt(6);
            if (hosts.add(host)) {
                String ip = v6 && rnd.nextBoolean() ? "fd00:10::" + i + ":" + host : "10.0." + i + "." + host;
                eps.add(rnd.nextBoolean() ? localEp(ip, 8000 + i) : ep(ip, 8000 + i));
            }
        }
        s.add(svc, eps.toArray(new Endpoint[0]));
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void anySequenceOfPartialSyncsEndsWhereAFreshFullSyncDoes(Flavour flavour) throws Exception {
        flavour.require();
        walk(flavour, flavour == Flavour.NFT ? 18 : 10, false);
    }

    @Test
    void anySequenceOfDualStackPartialSyncsEndsWhereAFreshFullSyncDoes() throws Exception {
        Flavour.NFT.require();
        walk(Flavour.NFT, 10, true);
    }

    /** Random changes to a few service ports, each followed by a partial sync and a comparison with a fresh full sync. */
    private static void walk(Flavour flavour, int steps, boolean dualStack) throws Exception {
        long seed = Long.getLong("pointsman.test.seed", 20261207L);
        Random rnd = new Random(seed);
        ProxyConfig.Builder b = Fixtures.config().toBuilder();
        if (dualStack) {
            b.clusterCIDRs = List.of("10.0.0.0/8", "fd00:10::/64");
        }
        ProxyConfig config = b.build();
        try (Netns ns = Netns.create("iptwalk")) {
            IptablesBackend backend = backend(ns, flavour, new ProxyMetrics("iptables"), config, null);
            Fixtures.State s = new Fixtures.State(dualStack ? Fixtures.node("192.168.0.2", "2001:db8::2")
                    : Fixtures.node("192.168.0.2"));
            for (ServicePortName n : POOL) {
                mutate(s, n, rnd, dualStack);
            }
            backend.sync(s.build(), ChangeSet.NONE, true);
            for (int step = 1; step <= steps; step++) {
                Set<ServicePortName> changed = new HashSet<>();
                for (int k = 1 + rnd.nextInt(3); k > 0; k--) {
                    ServicePortName n = POOL.get(rnd.nextInt(POOL.size()));
                    changed.add(n);
                    // Now and then a service port is named as changed but is not: nothing must be written for it.
                    if (rnd.nextInt(5) > 0) {
                        mutate(s, n, rnd, dualStack);
                    }
                }
                String what = "seed " + seed + " step " + step + " changed " + changed;
                Map<String, Long> counts = backend.sync(s.build(), new ChangeSet(changed, false), false).counts();
                if (dualStack) {
                    assertThat(counts).as(what).containsEntry("IPv4.fullSync", 0L).containsEntry("IPv6.fullSync", 0L);
                } else {
                    assertThat(counts).as(what).containsEntry("fullSync", 0L);
                }
                try (Netns fresh = Netns.create("iptfresh")) {
                    backend(fresh, flavour, new ProxyMetrics("iptables"), config, null)
                            .sync(s.build(), ChangeSet.NONE, true);
                    assertThat(state(ns, flavour)).as(what).isEqualTo(state(fresh, flavour));
                    if (dualStack) {
                        assertThat(kernelState(ns, flavour.saveTool(true))).as(what + " (IPv6)")
                                .isEqualTo(kernelState(fresh, flavour.saveTool(true)));
                    }
                }
            }
        }
    }

    // --- drift --------------------------------------------------------------------------------

    private static double repairs(ProxyMetrics metrics, String family) {
        return metrics.scrape().lines()
                .filter(l -> l.startsWith("kubeproxy_sync_proxy_rules_drift_repairs_total{")
                        && l.contains("ip_family=\"" + family + "\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void driftIsFoundCountedAndRepairedByTheNextSync(Flavour flavour) throws Exception {
        flavour.require();
        try (Netns ns = Netns.create("iptdrift")) {
            ProxyMetrics metrics = new ProxyMetrics("iptables");
            IptablesBackend backend = backend(ns, flavour, metrics, Fixtures.config(), null);
            ProxyState state = Fixtures.overall();
            backend.sync(state, ChangeSet.NONE, true);
            assertThat(backend.checkDrift()).isEqualTo(DriftReport.NONE);
            String svc1 = ChainNames.serviceChain(SVC1);

            // Before a check has seen a chain, its rule count and targets still catch a flush.
            ProxyState changed = new Fixtures.State(state.node()).add(state.services().get(SVC1),
                    ep("10.180.0.1", 80), ep("10.180.0.9", 80)).build();
            ProxyState next = merge(state, changed);
            backend.sync(next, new ChangeSet(Set.of(SVC1), false), false);
            flavour.iptables(ns, "iptables", "-t", "nat", "-F", svc1);
            DriftReport r = backend.checkDrift();
            assertThat(r.modified()).containsExactly("IPv4 nat " + svc1);
            assertThat(r.missing()).isEmpty();
            assertThat(repairs(metrics, "IPv4")).isEqualTo(1.0);
            assertThat(backend.sync(next, ChangeSet.NONE, false).counts()).containsEntry("fullSync", 0L)
                    .containsEntry("restored", 1L);
            assertThat(state(ns, flavour)).isEqualTo(freshFullSync(next, flavour));
            assertThat(backend.checkDrift()).isEqualTo(DriftReport.NONE);

            // Once seen, a chain is compared with what iptables-save printed: even a change that keeps
            // the rule count and targets is caught.
            String sep3 = ChainNames.endpointChain(SVC3, "10.180.0.3:80");
            List<String> services = kernelTable(ns, flavour.saveTool(false), "nat").get("KUBE-SERVICES");
            String first = services.get(0);
            String target = first.substring(first.lastIndexOf(" -j ") + 4);
            flavour.iptables(ns, "iptables", "-t", "nat", "-R", "KUBE-SERVICES", "1", "-d", "172.30.9.9/32", "-p",
                    "tcp", "--dport", "81", "-j", target);
            flavour.iptables(ns, "iptables", "-t", "nat", "-A", sep3, "-j", "RETURN");
            flavour.iptables(ns, "iptables", "-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment",
                    "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING");
            flavour.iptables(ns, "iptables", "-t", "nat", "-F", "KUBE-POSTROUTING");
            flavour.iptables(ns, "iptables", "-t", "nat", "-X", "KUBE-POSTROUTING");
            flavour.iptables(ns, "iptables", "-t", "filter", "-D", "INPUT", "-m", "comment", "--comment",
                    "kubernetes health check service ports", "-j", "KUBE-NODEPORTS");
            r = backend.checkDrift();
            assertThat(r.modified()).containsExactlyInAnyOrder("IPv4 nat KUBE-SERVICES", "IPv4 nat " + sep3);
            assertThat(r.missing()).containsExactlyInAnyOrder("IPv4 nat KUBE-POSTROUTING",
                    "IPv4 filter -A INPUT -m comment --comment \"kubernetes health check service ports\""
                            + " -j KUBE-NODEPORTS",
                    "IPv4 nat -A POSTROUTING -m comment --comment \"kubernetes postrouting rules\""
                            + " -j KUBE-POSTROUTING");
            assertThat(repairs(metrics, "IPv4")).isEqualTo(6.0);
            // Reported again until repaired, but counted once.
            assertThat(backend.checkDrift()).isEqualTo(r);
            assertThat(repairs(metrics, "IPv4")).isEqualTo(6.0);

            // The repair can come with changes: svc3's endpoint moves in the same sync.
            ProxyState moved = merge(next, new Fixtures.State(state.node()).add(state.services().get(SVC3),
                    ep("10.180.0.30", 80)).build());
            assertThat(backend.sync(moved, new ChangeSet(Set.of(SVC3), false), false).counts())
                    .containsEntry("fullSync", 0L);
            assertThat(state(ns, flavour)).isEqualTo(freshFullSync(moved, flavour));
            assertThat(backend.checkDrift()).isEqualTo(DriftReport.NONE);
            assertThat(backend.checkDrift()).isEqualTo(DriftReport.NONE);
        }
    }

    /** {@code base} with the service ports of {@code over} (and their endpoints) replaced. */
    private static ProxyState merge(ProxyState base, ProxyState over) {
        Map<ServicePortName, io.pointsman.core.model.ServicePort> services = new java.util.HashMap<>(base.services());
        Map<ServicePortName, List<Endpoint>> endpoints = new java.util.HashMap<>(base.endpoints());
        services.putAll(over.services());
        over.services().keySet().forEach(n -> endpoints.put(n, over.endpointsOf(n)));
        return new ProxyState(base.node(), services, endpoints);
    }

    @Test
    void ipv6ChainsAreCheckedToo() throws Exception {
        Flavour.NFT.require();
        try (Netns ns = Netns.create("iptdrift6")) {
            ProxyConfig.Builder b = Fixtures.config().toBuilder();
            b.clusterCIDRs = List.of("10.0.0.0/8", "fd00:10::/64");
            ProxyMetrics metrics = new ProxyMetrics("iptables");
            IptablesBackend backend = backend(ns, Flavour.NFT, metrics, b.build(), null);
            ProxyState state = new Fixtures.State(Fixtures.node("192.168.0.2", "2001:db8::2"))
                    .add(Fixtures.svc("ns1", "svc1", "p80", "172.30.0.41", 80).clusterIPs("172.30.0.41", "fd00:30::41"),
                            ep("10.0.1.1", 80), ep("fd00:10::1", 80))
                    .build();
            backend.sync(state, ChangeSet.NONE, true);
            String sep6 = ChainNames.endpointChain(SVC1, "[fd00:10::1]:80");
            Flavour.NFT.iptables(ns, "ip6tables", "-t", "nat", "-F", sep6);
            assertThat(backend.checkDrift().modified()).containsExactly("IPv6 nat " + sep6);
            assertThat(repairs(metrics, "IPv6")).isEqualTo(1.0);
            assertThat(repairs(metrics, "IPv4")).isZero();
            Map<String, List<String>> before = kernelTable(ns, "iptables-nft-save", "nat");
            backend.sync(state, ChangeSet.NONE, false);
            assertThat(kernelTable(ns, "ip6tables-nft-save", "nat").get(sep6)).hasSize(2);
            assertThat(kernelTable(ns, "iptables-nft-save", "nat")).isEqualTo(before);
            assertThat(backend.checkDrift()).isEqualTo(DriftReport.NONE);
        }
    }

    // --- restart and takeover -----------------------------------------------------------------

    /** iptables-save text without its comment lines and counters: what a restart must not change. */
    private static String saveText(Netns ns, Flavour flavour) {
        return ns.exec(flavour.saveTool(false)).lines().filter(l -> !l.startsWith("#"))
                .map(l -> l.replaceAll("\\[\\d+:\\d+\\]", "[0:0]")).collect(Collectors.joining("\n"));
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void aRestartedBackendChangesNothingInTheKernel(Flavour flavour) throws Exception {
        flavour.require();
        try (Netns ns = Netns.create("iptrestart")) {
            backend(ns, flavour).sync(Fixtures.overall(), ChangeSet.NONE, true);
            String before = saveText(ns, flavour);

            TeeNetfilter[] tee = new TeeNetfilter[1];
            IptablesBackend restarted = backend(ns, flavour, new ProxyMetrics("iptables"), Fixtures.config(), tee);
            assertThat(restarted.sync(Fixtures.overall(), ChangeSet.NONE, true).counts())
                    .containsEntry("deletedChains", 0L);
            // Every chain is rewritten with what it holds, in one commit per table; no jump is added.
            assertThat(tee[0].payloads).hasSize(1);
            assertThat(tee[0].payloads.get(0).lines()).noneMatch(l -> l.startsWith("-I ") || l.startsWith("-X ")
                    || l.startsWith("-D ") || l.startsWith("-F"));
            assertThat(saveText(ns, flavour)).isEqualTo(before);
            assertThat(restarted.checkDrift()).isEqualTo(DriftReport.NONE);
        }
    }

    /** What another program leaves in the tables, which a takeover must keep. */
    private static void foreignRules(Netns ns, Flavour flavour) {
        flavour.iptables(ns, "iptables", "-t", "nat", "-N", "CNI-HOSTPORT-DNAT");
        flavour.iptables(ns, "iptables", "-t", "nat", "-A", "CNI-HOSTPORT-DNAT", "-p", "tcp", "--dport", "8443",
                "-j", "DNAT", "--to-destination", "10.9.0.2:443");
        flavour.iptables(ns, "iptables", "-t", "nat", "-A", "PREROUTING", "-j", "CNI-HOSTPORT-DNAT");
        // Upstream's canary in the one table Pointsman never writes stays.
        flavour.iptables(ns, "iptables", "-t", "mangle", "-N", ChainNames.CANARY);
    }

    @ParameterizedTest
    @EnumSource(Flavour.class)
    void takeoverFromUpstreamsRulesEndsAsAFreshFullSync(Flavour flavour) throws Exception {
        flavour.require();
        ProxyState now = Fixtures.overall();
        // What kube-proxy last wrote: another endpoint for svc4, svc5 gone since, and chains from older
        // versions and services deleted while nobody was syncing.
        ProxyState before = merge(now, new Fixtures.State(now.node())
                .add(now.services().get(SVC4), ep("10.180.0.7", 80), localEp("10.180.0.5", 80))
                .add(Fixtures.svc("ns7", "svc7", "p80", "172.30.0.47", 80).type(ServiceType.NODE_PORT).nodePort(3007),
                        ep("10.180.0.17", 80), ep("10.180.0.18", 80))
                .build());
        Map<ServicePortName, io.pointsman.core.model.ServicePort> services = new java.util.HashMap<>(now.services());
        services.remove(SVC5);
        Map<ServicePortName, List<Endpoint>> endpoints = new java.util.HashMap<>(now.endpoints());
        endpoints.remove(SVC5);
        now = new ProxyState(now.node(), services, endpoints);

        try (Netns ns = Netns.create("ipttakeover")) {
            foreignRules(ns, flavour);
            // The same text upstream writes (the conformance tests hold ours to it), jumps included.
            backend(ns, flavour).sync(before, ChangeSet.NONE, true);
            for (String table : List.of("nat", "filter")) {
                flavour.iptables(ns, "iptables", "-t", table, "-N", ChainNames.CANARY);
            }
            flavour.iptables(ns, "iptables", "-t", "nat", "-N", "KUBE-SEP-AAAAAAAAAAAAAAAA");
            flavour.iptables(ns, "iptables", "-t", "nat", "-A", "KUBE-SEP-AAAAAAAAAAAAAAAA", "-p", "tcp",
                    "-j", "DNAT", "--to-destination", "10.180.0.99:80");
            flavour.iptables(ns, "iptables", "-t", "nat", "-N", "KUBE-SVC-AAAAAAAAAAAAAAAA");
            flavour.iptables(ns, "iptables", "-t", "nat", "-A", "KUBE-SVC-AAAAAAAAAAAAAAAA", "-j",
                    "KUBE-SEP-AAAAAAAAAAAAAAAA");
            flavour.iptables(ns, "iptables", "-t", "nat", "-N", "KUBE-XLB-AAAAAAAAAAAAAAAA");
            flavour.iptables(ns, "iptables", "-t", "nat", "-A", "KUBE-XLB-AAAAAAAAAAAAAAAA", "-j",
                    "KUBE-SVC-AAAAAAAAAAAAAAAA");
            flavour.iptables(ns, "iptables", "-t", "nat", "-A", "KUBE-NODEPORTS", "-p", "tcp", "--dport", "3099",
                    "-j", "KUBE-XLB-AAAAAAAAAAAAAAAA");

            TeeNetfilter[] tee = new TeeNetfilter[1];
            IptablesBackend pointsman = backend(ns, flavour, new ProxyMetrics("iptables"), Fixtures.config(), tee);
            assertThat(pointsman.sync(now, ChangeSet.NONE, true).counts())
                    // svc5's FW/EXT/SVC/SEP, svc7's EXT/SVC/2 SEP, svc4's old SEP, the three leftovers, 2 canaries
                    .containsEntry("deletedChains", 4L + 4 + 1 + 3 + 2);
            // One restore, one commit per table: each chain is flushed only by its own re-declaration
            // in the commit that refills it, and stale chains go at the end of that same commit.
            assertThat(tee[0].payloads).hasSize(1);
            String payload = tee[0].payloads.get(0);
            assertThat(payload.lines().filter(l -> l.startsWith("*"))).containsExactly("*filter", "*nat");
            assertThat(payload.lines()).noneMatch(l -> l.startsWith("-D ") || l.startsWith("-F")
                    || l.startsWith("-I "));
            String nat = payload.substring(payload.indexOf("*nat"));
            int lastRule = nat.lastIndexOf("\n-A ");
            assertThat(nat.indexOf("\n-X ")).isGreaterThan(lastRule);

            assertThat(state(ns, flavour)).isEqualTo(freshFullSync(now, flavour, f -> foreignRules(f, flavour)));
            assertThat(kernelTable(ns, flavour.saveTool(false), "nat").get("CNI-HOSTPORT-DNAT")).hasSize(1);
            assertThat(pointsman.checkDrift()).isEqualTo(DriftReport.NONE);
        }
    }
}
