package io.pointsman.nftables;

import static io.pointsman.nftables.Fixtures.ep;
import static io.pointsman.nftables.Fixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import io.pointsman.nftables.Fixtures.StateBuilder;
import io.pointsman.nftables.Fixtures.Svc;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Syncs after the first write only what changed; any sequence of them ends where a full sync would. */
class NftDeltaTest {
    private final ProxyMetrics metrics = new ProxyMetrics("nftables");

    private NftablesBackend backend(ProxyConfig config, io.pointsman.core.linux.Nft nft) {
        return new NftablesBackend(config, metrics, nft, () -> { });
    }

    private static ChangeSet changed(ServicePortName... names) {
        return new ChangeSet(Set.of(names), false);
    }

    @Test
    void oneNewEndpointIsTwoElementChangesAndNothingElse() throws SyncException {
        RecordingNft nft = new RecordingNft();
        NftablesBackend b = backend(Fixtures.config(), nft);
        b.sync(Fixtures.upstreamOverall(), ChangeSet.NONE, true);
        assertThat(nft.last()).startsWith("add table ip pointsman");

        ServicePortName svc1 = name("ns1", "svc1", "p80");
        StateBuilder s = new StateBuilder();
        Fixtures.upstreamOverall().services().forEach((k, v) -> s.services.put(k, v));
        s.endpoints.putAll(Fixtures.upstreamOverall().endpoints());
        s.endpoints.put(svc1, List.of(ep("10.180.0.1", 80), ep("10.180.0.9", 80)));
        SyncResult r = b.sync(s.build(), changed(svc1), false);

        Script delta = Script.parse(nft.last());
        // lb-2 exists already (svc4): the dispatch element moves to it, one backend slot is added.
        assertThat(delta.deleted).containsOnly(entry(Ruleset.SERVICE_IPS, List.of("172.30.0.41 . tcp . 80")));
        assertThat(delta.added).containsOnly(
                entry(Ruleset.SERVICE_IPS, Map.of("172.30.0.41 . tcp . 80", "goto lb-2")),
                entry("backends-1", Map.of("172.30.0.41 . tcp . 80", "10.180.0.9 . 80")));
        assertThat(delta.commands).containsExactlyInAnyOrder("delete element service-ips", "add element service-ips",
                "add element backends-1");
        assertThat(delta.commands.get(0)).isEqualTo("delete element service-ips");
        assertThat(r.counts()).containsEntry("readBack", 0L).containsEntry("elementsAdded", 2L)
                .containsEntry("elementsDeleted", 1L).containsEntry("rulesWritten", 0L);
    }

    @Test
    void unchangedServicesWriteNothing() throws SyncException {
        RecordingNft nft = new RecordingNft();
        NftablesBackend b = backend(Fixtures.config(), nft);
        ProxyState state = Fixtures.upstreamOverall();
        b.sync(state, ChangeSet.NONE, true);
        b.sync(state, changed(name("ns1", "svc1", "p80"), name("ns5", "svc5", "p80")), false);
        assertThat(nft.scripts).hasSize(1);
    }

    @Test
    void aRemovedServiceTakesItsElementsAndTheChainsOnlyItUsed() throws SyncException {
        RecordingNft nft = new RecordingNft();
        NftablesBackend b = backend(Fixtures.config(), nft);
        Svc three = new Svc(name("ns", "three", "p"), "10.96.0.3", 80);
        ProxyState before = new StateBuilder().add(new Svc(name("ns", "one", "p"), "10.96.0.1", 80), ep("10.1.0.1", 80))
                .add(three, ep("10.1.0.1", 80), ep("10.1.0.2", 80), ep("10.1.0.3", 80)).build();
        b.sync(before, ChangeSet.NONE, true);
        ProxyState after = new StateBuilder().add(new Svc(name("ns", "one", "p"), "10.96.0.1", 80), ep("10.1.0.1", 80))
                .build();
        b.sync(after, changed(three.name), false);
        Script delta = Script.parse(nft.last());
        // Slot 0 stays ("one" uses it): its element goes. The maps of slots 1 and 2 go as a whole.
        assertThat(delta.deleted.get("backends-0")).containsExactly("10.96.0.3 . tcp . 80");
        assertThat(delta.deleted).doesNotContainKeys("backends-1", "backends-2");
        assertThat(delta.deleted.get(Ruleset.SERVICE_IPS)).containsExactly("10.96.0.3 . tcp . 80");
        assertThat(delta.deleted.get(Ruleset.CLUSTER_IPS)).containsExactly("10.96.0.3");
        assertThat(delta.added).isEmpty();
        // The chains go after the elements that sent traffic to them, callers first; the maps of
        // slots 1 and 2, which only "three" used, go last.
        assertThat(delta.commands).endsWith("delete chain ip pointsman lb-3", "delete chain ip pointsman backend-1",
                "delete chain ip pointsman backend-2", "delete map ip pointsman backends-1",
                "delete map ip pointsman backends-2");
    }

    @Test
    void aRefusedTransactionCountsAFailureAndTheNextSyncReadsBackAndComparesEverything() throws SyncException {
        RecordingNft nft = new RecordingNft();
        NftablesBackend b = backend(Fixtures.config(), nft);
        ProxyState state = Fixtures.upstreamOverall();
        b.sync(state, ChangeSet.NONE, true);
        nft.refuseWith = "Error: Could not process rule: File exists";
        ServicePortName svc1 = name("ns1", "svc1", "p80");
        ProxyState without = new StateBuilder().build();
        assertThatThrownBy(() -> b.sync(without, changed(svc1), false)).isInstanceOf(SyncException.class)
                .hasMessageContaining("File exists").hasMessageContaining("keeps its previous rules");
        assertThat(metrics.scrape()).contains("kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv4\"} 1.0");

        // The listing says the table is gone: the next sync (partial as asked) writes it all again.
        SyncResult r = b.sync(state, changed(svc1), false);
        assertThat(r.counts()).containsEntry("readBack", 1L);
        assertThat(nft.last()).startsWith("add table ip pointsman");
    }

    @Test
    void aNodeChangeRecomputesEveryServiceButWritesOnlyWhatDiffers() throws SyncException {
        RecordingNft nft = new RecordingNft();
        NftablesBackend b = backend(Fixtures.config(c -> c.nodePortAddresses = List.of("primary")), nft);
        ProxyState state = Fixtures.upstreamOverall();
        b.sync(state, ChangeSet.NONE, true);
        ProxyState moved = new ProxyState(new NodeInfo(Fixtures.NODE, Map.of(), List.of("192.168.0.7"), List.of()),
                state.services(), state.endpoints());
        b.sync(moved, new ChangeSet(Set.of(), true), false);
        Script delta = Script.parse(nft.last());
        assertThat(delta.deleted).containsOnly(entry(Ruleset.NODEPORT_ADDRESSES, List.of(Fixtures.NODE_IP)));
        assertThat(delta.added).containsOnly(entry(Ruleset.NODEPORT_ADDRESSES, Map.of("192.168.0.7", "")));
    }

    @Test
    void randomDeltaSequencesEndWhereAFullSyncOfTheSameStateEnds() throws SyncException {
        for (long seed = 1; seed <= 12; seed++) {
            RandomStates states = new RandomStates(seed, seed % 3 == 0);
            SimulatedNft incremental = new SimulatedNft();
            ProxyConfig config = Fixtures.config(c -> {
                c.clusterCIDRs = List.of("10.0.0.0/8", "fd00:10::/64");
                c.nodePortAddresses = List.of("primary", "127.0.0.0/8");
            });
            NftablesBackend b = backend(config, incremental);
            b.sync(states.initial(25), ChangeSet.NONE, true);
            for (int i = 0; i < 60; i++) {
                ChangeSet changes = states.step();
                b.sync(states.state(), changes, false);
            }
            SimulatedNft full = new SimulatedNft();
            backend(config, full).sync(states.state(), ChangeSet.NONE, true);
            assertThat(incremental.dump()).as("seed %d: %d delta transactions vs one full sync", seed,
                    incremental.scripts).isEqualTo(full.dump());
        }
    }
}
