package io.pointsman.core.source;

import static io.pointsman.core.source.Fixtures.NODE;
import static io.pointsman.core.source.Fixtures.service;
import static io.pointsman.core.source.Fixtures.serviceBuilder;
import static io.pointsman.core.source.Fixtures.slice;
import static io.pointsman.core.source.Fixtures.sliceBuilder;
import static io.pointsman.core.source.Fixtures.spn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.ServicePortName;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ChangeTrackerTest {
    private final ProxyMetrics metrics = new ProxyMetrics("test");
    private final ChangeTracker tracker = new ChangeTracker(NODE, metrics);
    private static final ServicePortName A = spn("ns", "a", "p");
    private static final ServicePortName B = spn("ns", "b", "p");

    private void initialize() {
        tracker.markServicesSynced();
        tracker.markEndpointSlicesSynced();
        tracker.markNodeSynced();
    }

    @Test
    void initializedOnlyAfterAllThreeKindsWereListed() {
        AtomicInteger calls = new AtomicInteger();
        tracker.setListener(calls::incrementAndGet);
        assertThat(tracker.initialized()).isFalse();
        tracker.markServicesSynced();
        tracker.markEndpointSlicesSynced();
        assertThat(tracker.initialized()).isFalse();
        assertThat(calls).hasValue(0);
        tracker.markNodeSynced();
        assertThat(tracker.initialized()).isTrue();
        assertThat(calls).as("listener told once when initialization completes").hasValue(1);
        tracker.markNodeSynced();
        assertThat(calls).hasValue(1);
    }

    @Test
    void drainReportsAddsUpdatesAndRemovalsThenNothing() {
        initialize();
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080, "10.1.0.1"));
        ChangeTracker.Drained d = tracker.drain();
        assertThat(d.changes().servicePorts()).containsExactly(A);
        assertThat(d.state().services()).containsOnlyKeys(A);
        assertThat(d.state().endpointsOf(A)).extracting(Endpoint::hostPort).containsExactly("10.1.0.1:8080");

        assertThat(tracker.drain().changes().isEmpty()).isTrue();

        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080, "10.1.0.1", "10.1.0.2"));
        d = tracker.drain();
        assertThat(d.changes().servicePorts()).containsExactly(A);
        assertThat(d.state().endpointsOf(A)).hasSize(2);

        tracker.deleteService("ns", "a");
        d = tracker.drain();
        assertThat(d.changes().servicePorts()).containsExactly(A);
        assertThat(d.state().services()).isEmpty();
        assertThat(d.state().endpoints()).as("endpoints of a removed Service are not published").isEmpty();
    }

    @Test
    void aChangeThatIsUndoneBeforeTheDrainIsForgotten() {
        initialize();
        Service original = service("ns", "a", "10.0.0.1", 80);
        tracker.updateService(original);
        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080, "10.1.0.1"));
        tracker.updateService(service("ns", "b", "10.0.0.2", 80));
        tracker.drain();

        tracker.updateService(serviceBuilder("ns", "a", "10.0.0.1", 80).editSpec()
                .withSessionAffinity("ClientIP").endSpec().build());
        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080, "10.1.0.9"));
        tracker.updateService(service("ns", "b", "10.0.0.2", 81));
        assertThat(tracker.pendingServiceChanges()).isEqualTo(2);
        assertThat(tracker.pendingEndpointChanges()).isEqualTo(1);

        tracker.updateService(original);
        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080, "10.1.0.1"));
        assertThat(tracker.pendingServiceChanges()).isEqualTo(1);
        assertThat(tracker.pendingEndpointChanges()).isZero();
        assertThat(tracker.drain().changes().servicePorts()).containsExactly(B);

        // Also across delete and re-add.
        tracker.deleteService("ns", "a");
        tracker.updateService(original);
        assertThat(tracker.pendingServiceChanges()).isZero();
        assertThat(tracker.drain().changes().isEmpty()).isTrue();
    }

    @Test
    void pendingGaugesAreRegistered() {
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        String scrape = metrics.scrape();
        assertThat(scrape).contains("kubeproxy_sync_proxy_rules_service_changes_pending 1.0");
        assertThat(scrape).contains("kubeproxy_sync_proxy_rules_service_changes_total 1.0");
    }

    @Test
    void slicesOfAServiceAreMergedDeduplicatedAndSorted() {
        initialize();
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        EndpointSlice notReady = sliceBuilder("ns", "a-1", "a", 8080)
                .addToEndpoints(new EndpointBuilder().withAddresses("10.1.0.5").withNewConditions()
                        .withReady(false).endConditions().build())
                .addToEndpoints(new EndpointBuilder().withAddresses("10.1.0.10").build())
                .build();
        tracker.updateEndpointSlice(notReady);
        tracker.updateEndpointSlice(slice("ns", "a-2", "a", 8080, "10.1.0.5", "10.1.0.2"));
        // A slice with a port the Service does not have contributes nothing to it.
        tracker.updateEndpointSlice(sliceBuilder("ns", "a-3", "a", 9090).editFirstPort().withName("other").endPort()
                .addToEndpoints(new EndpointBuilder().withAddresses("10.1.0.99").build()).build());
        List<Endpoint> eps = tracker.drain().state().endpointsOf(A);
        assertThat(eps).extracting(Endpoint::hostPort)
                .containsExactly("10.1.0.10:8080", "10.1.0.2:8080", "10.1.0.5:8080");
        assertThat(eps.get(2).ready()).as("the ready copy of a duplicate wins").isTrue();

        tracker.deleteEndpointSlice("ns", "a-2");
        eps = tracker.drain().state().endpointsOf(A);
        assertThat(eps).extracting(Endpoint::hostPort).containsExactly("10.1.0.10:8080", "10.1.0.5:8080");
        assertThat(eps.get(1).ready()).isFalse();
    }

    @Test
    void slicesOfUnknownServicesWaitForTheirService() {
        initialize();
        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080, "10.1.0.1"));
        ChangeTracker.Drained d = tracker.drain();
        assertThat(d.state().endpoints()).isEmpty();
        assertThat(d.changes().isEmpty()).isTrue();

        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        d = tracker.drain();
        assertThat(d.changes().servicePorts()).containsExactly(A);
        assertThat(d.state().endpointsOf(A)).extracting(Endpoint::ip).containsExactly("10.1.0.1");
    }

    @Test
    void aSliceThatMovesToAnotherServiceLeavesTheFirst() {
        initialize();
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        tracker.updateService(service("ns", "b", "10.0.0.2", 80));
        tracker.updateEndpointSlice(slice("ns", "x", "a", 8080, "10.1.0.1"));
        tracker.drain();
        tracker.updateEndpointSlice(slice("ns", "x", "b", 8080, "10.1.0.1"));
        ChangeTracker.Drained d = tracker.drain();
        assertThat(d.changes().servicePorts()).containsExactlyInAnyOrder(A, B);
        assertThat(d.state().endpointsOf(A)).isEmpty();
        assertThat(d.state().endpointsOf(B)).hasSize(1);
    }

    @Test
    void headlessSlicesAndServicesAreIgnored() {
        initialize();
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        tracker.updateEndpointSlice(sliceBuilder("ns", "a-1", "a", 8080)
                .editMetadata().addToLabels(ModelConverter.HEADLESS_LABEL, "").endMetadata()
                .addToEndpoints(new EndpointBuilder().withAddresses("10.1.0.1").build()).build());
        tracker.updateService(service("ns", "h", "None", 80));
        ChangeTracker.Drained d = tracker.drain();
        assertThat(d.state().services()).containsOnlyKeys(A);
        assertThat(d.state().endpoints()).isEmpty();
    }

    @Test
    void serviceProxyNameSelectsServices() {
        Service unlabelled = service("ns", "a", "10.0.0.1", 80);
        Service mine = serviceBuilder("ns", "b", "10.0.0.2", 80).editMetadata()
                .addToLabels(ModelConverter.SERVICE_PROXY_NAME_LABEL, "pointsman").endMetadata().build();
        Service other = serviceBuilder("ns", "c", "10.0.0.3", 80).editMetadata()
                .addToLabels(ModelConverter.SERVICE_PROXY_NAME_LABEL, "cilium").endMetadata().build();

        for (Service s : List.of(unlabelled, mine, other)) {
            tracker.updateService(s);
        }
        assertThat(tracker.drain().state().services()).containsOnlyKeys(A);

        ChangeTracker named = new ChangeTracker(NODE, metrics, "pointsman");
        for (Service s : List.of(unlabelled, mine, other)) {
            named.updateService(s);
        }
        assertThat(named.drain().state().services()).containsOnlyKeys(B);

        // Relabelling a Service for another proxy removes it.
        named.updateService(serviceBuilder("ns", "b", "10.0.0.2", 80).editMetadata()
                .addToLabels(ModelConverter.SERVICE_PROXY_NAME_LABEL, "cilium").endMetadata().build());
        ChangeTracker.Drained d = named.drain();
        assertThat(d.state().services()).isEmpty();
        assertThat(d.changes().servicePorts()).containsExactly(B);

        assertThatThrownBy(() -> named.setServiceProxyName("x")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aMalformedServiceIsTreatedAsAbsentWhileOthersProgram() {
        initialize();
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        tracker.updateService(service("ns", "b", "10.0.0.2", 80));
        tracker.drain();
        tracker.updateService(service("ns", "a", "10.0.0.999", 80));
        ChangeTracker.Drained d = tracker.drain();
        assertThat(d.state().services()).containsOnlyKeys(B);
        assertThat(d.changes().servicePorts()).containsExactly(A);
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        assertThat(tracker.drain().state().services()).containsOnlyKeys(A, B);
    }

    @Test
    void aMalformedSliceIsTreatedAsAbsent() {
        initialize();
        tracker.updateService(service("ns", "a", "10.0.0.1", 80));
        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080, "10.1.0.1"));
        tracker.updateEndpointSlice(slice("ns", "a-2", "a", 8080, "10.1.0.2"));
        tracker.drain();
        tracker.updateEndpointSlice(slice("ns", "a-2", "a", 8080, "10.1.0.2", "not-an-ip"));
        assertThat(tracker.drain().state().endpointsOf(A)).extracting(Endpoint::ip).containsExactly("10.1.0.1");
    }

    @Test
    void nodeUpdatesOfThisNodeOnly() {
        initialize();
        tracker.updateNode(Fixtures.node("someone-else", "zone-x", "192.0.2.99"));
        ChangeTracker.Drained d = tracker.drain();
        assertThat(d.changes().nodeChanged()).isFalse();
        assertThat(d.state().node().zone()).isEmpty();

        tracker.updateNode(Fixtures.node(NODE, "zone-a", "192.0.2.1"));
        d = tracker.drain();
        assertThat(d.changes().nodeChanged()).isTrue();
        assertThat(d.state().node().zone()).isEqualTo("zone-a");
        assertThat(d.state().node().addresses()).containsExactly("192.0.2.1");
        assertThat(tracker.drain().changes().nodeChanged()).isFalse();

        tracker.deleteNode(NODE);
        d = tracker.drain();
        assertThat(d.changes().nodeChanged()).isTrue();
        assertThat(d.state().node().labels()).isEmpty();
    }

    @Test
    void listenerIsCalledForRealChangesOnly() {
        List<String> calls = new ArrayList<>();
        tracker.setListener(() -> calls.add("x"));
        Service a = service("ns", "a", "10.0.0.1", 80);
        tracker.updateService(a);
        tracker.updateService(a); // a resync
        tracker.updateEndpointSlice(slice("ns", "a-1", "a", 8080)); // no endpoints: nothing changes
        assertThat(calls).hasSize(1);
    }

    @Test
    void concurrentWritersAndADrainingReaderEndConsistent() throws Exception {
        initialize();
        int writers = 4;
        int perWriter = 200;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        CountDownLatch done = new CountDownLatch(writers);
        for (int w = 0; w < writers; w++) {
            int id = w;
            pool.execute(() -> {
                try {
                    for (int i = 0; i < perWriter; i++) {
                        String name = "s" + id + "-" + i;
                        tracker.updateService(service("ns", name, "10.0." + id + "." + (i % 250 + 1), 80));
                        tracker.updateEndpointSlice(slice("ns", name + "-x", name, 8080, "10.1." + id + "." + (i % 250 + 1)));
                        if (i % 3 == 0) {
                            tracker.deleteService("ns", name);
                        }
                    }
                } finally {
                    done.countDown();
                }
            });
        }
        int drains = 0;
        while (!done.await(1, TimeUnit.MILLISECONDS)) {
            tracker.drain();
            drains++;
        }
        pool.shutdown();
        ChangeTracker.Drained d = tracker.drain();
        int expected = writers * (perWriter - (perWriter + 2) / 3);
        assertThat(d.state().services()).hasSize(expected);
        assertThat(d.state().endpoints()).hasSize(expected);
        assertThat(tracker.pendingServiceChanges()).isZero();
        assertThat(drains).isPositive();
    }
}
