package io.pointsman.core.sync;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.pointsman.core.http.ProxyHealth;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.source.ChangeTracker;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ReconcilerTest {

    /** Records every sync call; fails the next N calls on request. */
    static final class RecordingBackend implements ProxyBackend {
        record Call(ProxyState state, ChangeSet changes, boolean full) {
        }

        final List<Call> calls = new ArrayList<>();
        int failNext;
        DriftReport drift = DriftReport.NONE;
        int driftChecks;

        @Override
        public DriftReport checkDrift() {
            driftChecks++;
            DriftReport d = drift;
            drift = DriftReport.NONE;
            return d;
        }

        @Override
        public String mode() {
            return "test";
        }

        @Override
        public SyncResult sync(ProxyState state, ChangeSet changes, boolean full) throws SyncException {
            calls.add(new Call(state, changes, full));
            if (failNext > 0) {
                failNext--;
                throw new SyncException("restore refused line 3 (test)");
            }
            return new SyncResult(full ? state.services().size() : changes.servicePorts().size(), Map.of());
        }
    }

    static final class MutableClock extends Clock {
        Instant now = Instant.parse("2026-12-07T10:00:00Z");

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private final ProxyMetrics metrics = new ProxyMetrics("test");
    private final ChangeTracker tracker = new ChangeTracker("node-a", metrics);
    private final RecordingBackend backend = new RecordingBackend();
    private final MutableClock clock = new MutableClock();
    private final ProxyHealth health = new ProxyHealth(Duration.ofSeconds(60), clock, () -> true);
    private final Reconciler reconciler = new Reconciler(tracker, backend, metrics, health, Set.of(IpFamily.IPv4), clock);

    private static Service service(String name, String ip) {
        return new ServiceBuilder().withNewMetadata().withNamespace("ns").withName(name).withResourceVersion("1")
                .endMetadata().withNewSpec().withClusterIP(ip).addNewPort().withName("http").withPort(80)
                .withProtocol("TCP").endPort().endSpec().build();
    }

    private void listEverything() {
        Node node = new NodeBuilder().withNewMetadata().withName("node-a").endMetadata().build();
        tracker.updateNode(node);
        tracker.markServicesSynced();
        tracker.markEndpointSlicesSynced();
        tracker.markNodeSynced();
    }

    @Test
    void nothingSyncsBeforeTheInitialLists() {
        tracker.updateService(service("a", "10.96.0.1"));
        assertThat(reconciler.syncOnce()).isTrue();
        assertThat(backend.calls).isEmpty();
        listEverything();
        assertThat(reconciler.syncOnce()).isTrue();
        assertThat(backend.calls).hasSize(1);
        assertThat(backend.calls.get(0).full()).as("the first sync is full").isTrue();
        assertThat(backend.calls.get(0).state().services()).hasSize(1);
    }

    @Test
    void laterSyncsArePartialAndCarryOnlyWhatChanged() {
        tracker.updateService(service("a", "10.96.0.1"));
        listEverything();
        reconciler.syncOnce();
        tracker.updateService(service("b", "10.96.0.2"));
        reconciler.syncOnce();
        RecordingBackend.Call second = backend.calls.get(1);
        assertThat(second.full()).isFalse();
        assertThat(second.changes().servicePorts()).extracting(Object::toString).containsExactly("ns/b:http");
        assertThat(second.state().services()).hasSize(2);
    }

    @Test
    void aSyncWithNothingChangedDoesNotCallTheBackend() {
        listEverything();
        reconciler.syncOnce();
        reconciler.syncOnce();
        assertThat(backend.calls).hasSize(1);
        assertThat(reconciler.syncs()).isEqualTo(1);
    }

    @Test
    void aFailedApplyMakesTheNextSyncFull() {
        tracker.updateService(service("a", "10.96.0.1"));
        listEverything();
        reconciler.syncOnce();
        tracker.updateService(service("b", "10.96.0.2"));
        backend.failNext = 1;
        assertThat(reconciler.syncOnce()).as("failure reported to the runner").isFalse();
        assertThat(reconciler.syncOnce()).isTrue();
        RecordingBackend.Call retry = backend.calls.get(2);
        assertThat(retry.full()).as("the drained changes are gone, so the retry is full").isTrue();
        assertThat(retry.state().services()).hasSize(2);
        assertThat(metrics.scrape()).contains("kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 2");
    }

    @Test
    void aFullSyncHappensAtLeastHourly() {
        listEverything();
        reconciler.syncOnce();
        clock.now = clock.now.plus(Duration.ofMinutes(59));
        reconciler.syncOnce();
        assertThat(backend.calls).hasSize(1);
        clock.now = clock.now.plus(Duration.ofMinutes(2));
        reconciler.syncOnce();
        assertThat(backend.calls).hasSize(2);
        assertThat(backend.calls.get(1).full()).isTrue();
    }

    @Test
    void healthTurnsUnhealthyOnlyWhenSyncsKeepFailingPastTheTimeout() {
        listEverything();
        reconciler.syncOnce();
        tracker.updateService(service("a", "10.96.0.1"));
        reconciler.queued();
        backend.failNext = 100;
        reconciler.syncOnce();
        clock.now = clock.now.plus(Duration.ofSeconds(30));
        assertThat(health.healthy()).isTrue();
        reconciler.syncOnce();
        clock.now = clock.now.plus(Duration.ofSeconds(31));
        assertThat(health.healthy()).as("pending for 61 s > 2 x 30 s").isFalse();
        backend.failNext = 0;
        reconciler.syncOnce();
        assertThat(health.healthy()).isTrue();
    }

    @Test
    void driftIsCheckedEverySyncPeriodAndRepairedAtOnce() {
        listEverything();
        reconciler.syncOnce();
        clock.now = clock.now.plus(Duration.ofSeconds(10));
        reconciler.syncOnce();
        assertThat(backend.driftChecks).as("checked on the first run after a sync").isEqualTo(1);
        clock.now = clock.now.plus(Duration.ofSeconds(10));
        reconciler.syncOnce();
        assertThat(backend.driftChecks).as("not again within the period").isEqualTo(1);
        assertThat(backend.calls).hasSize(1);
        backend.drift = new DriftReport(List.of("IPv4 nat KUBE-SVC-X"), List.of());
        clock.now = clock.now.plus(Duration.ofSeconds(31));
        reconciler.syncOnce();
        assertThat(backend.driftChecks).isEqualTo(2);
        assertThat(backend.calls).as("drift makes a sync even with nothing changed").hasSize(2);
        assertThat(backend.calls.get(1).full()).isFalse();
        assertThat(backend.calls.get(1).changes().isEmpty()).isTrue();
    }
}
