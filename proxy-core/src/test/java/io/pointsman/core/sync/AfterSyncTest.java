package io.pointsman.core.sync;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.pointsman.core.http.ProxyHealth;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.source.ChangeTracker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The reconciler's after-sync steps: run after success only, in order, and never fail the sync. */
class AfterSyncTest {
    private final ProxyMetrics metrics = new ProxyMetrics("test");
    private final ChangeTracker tracker = new ChangeTracker("node-a", metrics);
    private final ReconcilerTest.RecordingBackend backend = new ReconcilerTest.RecordingBackend();
    private final ReconcilerTest.MutableClock clock = new ReconcilerTest.MutableClock();
    private final ProxyHealth health = new ProxyHealth(Duration.ofSeconds(60), clock, () -> true);
    private final Reconciler reconciler = new Reconciler(tracker, backend, metrics, health, Set.of(IpFamily.IPv4), clock);
    private final List<String> calls = new ArrayList<>();

    private void listEverythingWithOneService(String name) {
        tracker.updateService(new ServiceBuilder().withNewMetadata().withNamespace("ns").withName(name)
                .withResourceVersion("1").endMetadata().withNewSpec().withClusterIP("10.96.0.1").addNewPort()
                .withName("http").withPort(80).withProtocol("TCP").endPort().endSpec().build());
        tracker.updateNode(new NodeBuilder().withNewMetadata().withName("node-a").endMetadata().build());
        tracker.markServicesSynced();
        tracker.markEndpointSlicesSynced();
        tracker.markNodeSynced();
    }

    @Test
    void stepsRunInOrderAfterASuccessfulSyncWithTheSyncedState() {
        reconciler.addAfterSync("first", (state, changes, full) -> calls.add("first " + state.services().size() + " " + full));
        reconciler.addAfterSync("second", (state, changes, full) -> calls.add("second " + changes.servicePorts().size()));
        listEverythingWithOneService("a");
        assertThat(reconciler.syncOnce()).isTrue();
        assertThat(calls).containsExactly("first 1 true", "second 1");
    }

    @Test
    void aFailedSyncRunsNoStep() {
        reconciler.addAfterSync("step", (state, changes, full) -> calls.add("ran"));
        listEverythingWithOneService("a");
        backend.failNext = 1;
        assertThat(reconciler.syncOnce()).isFalse();
        assertThat(calls).isEmpty();
    }

    @Test
    void aSyncWithNothingChangedStillRunsTheStepsSoTheyCanRetry() {
        reconciler.addAfterSync("step", (state, changes, full) -> calls.add(full + " " + changes.isEmpty()));
        listEverythingWithOneService("a");
        reconciler.syncOnce();
        reconciler.syncOnce();
        assertThat(backend.calls).hasSize(1);
        assertThat(calls).containsExactly("true false", "false true");
    }

    @Test
    void aThrowingStepNeitherFailsTheSyncNorStopsTheNextStep() {
        reconciler.addAfterSync("broken", (state, changes, full) -> {
            throw new IllegalStateException("listener exploded");
        });
        reconciler.addAfterSync("next", (state, changes, full) -> calls.add("next"));
        listEverythingWithOneService("a");
        assertThat(reconciler.syncOnce()).isTrue();
        assertThat(reconciler.syncs()).isEqualTo(1);
        assertThat(calls).containsExactly("next");
        assertThat(health.healthy()).isTrue();
    }
}
