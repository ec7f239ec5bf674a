package io.pointsman.core.source;

import static io.pointsman.core.source.Fixtures.NODE;
import static io.pointsman.core.source.Fixtures.service;
import static io.pointsman.core.source.Fixtures.serviceBuilder;
import static io.pointsman.core.source.Fixtures.slice;
import static io.pointsman.core.source.Fixtures.sliceBuilder;
import static io.pointsman.core.source.Fixtures.spn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class KubernetesSourceTest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final ServicePortName A = spn("ns", "a", "p");
    private static final ServicePortName B = spn("ns", "b", "p");

    KubernetesMockServer server;
    KubernetesClient client;

    private final ChangeTracker tracker = new ChangeTracker(NODE, new ProxyMetrics("test"));
    private KubernetesSource source;

    @AfterEach
    void stop() {
        if (source != null) {
            source.close();
        }
    }

    private void start(ChangeTracker t) {
        source = new KubernetesSource(client, NODE, Duration.ofMinutes(15));
        source.start(t);
    }

    private ProxyState awaitState(java.util.function.Predicate<ProxyState> condition) {
        AtomicReference<ProxyState> last = new AtomicReference<>();
        await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> {
            ProxyState s = tracker.drain().state();
            last.set(s);
            return condition.test(s);
        });
        return last.get();
    }

    private void create(Service s) {
        client.services().inNamespace(s.getMetadata().getNamespace()).resource(s).create();
    }

    private void create(EndpointSlice s) {
        client.discovery().v1().endpointSlices().inNamespace(s.getMetadata().getNamespace()).resource(s).create();
    }

    @Test
    void theFirstInitializedStateAlreadyHoldsEverythingListed() {
        int n = 40;
        for (int i = 0; i < n; i++) {
            create(service("ns", "s" + i, "10.0.0." + (i + 1), 80));
            create(slice("ns", "s" + i + "-x", "s" + i, 8080, "10.1.0." + (i + 1)));
        }
        client.nodes().resource(Fixtures.node(NODE, "zone-a", "192.0.2.1")).create();
        AtomicReference<ProxyState> firstInitialized = new AtomicReference<>();
        tracker.setListener(() -> {
            if (tracker.initialized() && firstInitialized.get() == null) {
                firstInitialized.compareAndSet(null, tracker.drain().state());
            }
        });
        assertThat(tracker.initialized()).isFalse();
        start(tracker);
        await().atMost(WAIT).until(() -> firstInitialized.get() != null);
        ProxyState s = firstInitialized.get();
        assertThat(s.services()).hasSize(n);
        assertThat(s.endpoints()).hasSize(n);
        assertThat(s.node().zone()).isEqualTo("zone-a");
        assertThat(source.hasSynced()).isTrue();
    }

    @Test
    void nothingIsInitializedWhileTheApiCannotBeListed() throws Exception {
        try (KubernetesClient unreachable = new KubernetesClientBuilder().withConfig(new ConfigBuilder()
                .withMasterUrl("http://127.0.0.1:1").withRequestRetryBackoffLimit(0).build()).build()) {
            source = new KubernetesSource(unreachable, NODE, Duration.ZERO);
            source.start(tracker);
            for (int i = 0; i < 15; i++) {
                Thread.sleep(100);
                assertThat(tracker.initialized()).isFalse();
            }
            assertThat(source.hasSynced()).isFalse();
            source.close();
        }
    }

    @Test
    void addsUpdatesAndDeletesReachTheTracker() {
        start(tracker);
        await().atMost(WAIT).until(tracker::initialized);

        create(service("ns", "a", "10.0.0.1", 80));
        create(slice("ns", "a-1", "a", 8080, "10.1.0.1"));
        ProxyState s = awaitState(st -> st.endpointsOf(A).size() == 1);
        assertThat(s.services().get(A).port()).isEqualTo(80);

        client.services().inNamespace("ns").withName("a")
                .edit(old -> new ServiceBuilder(old).editSpec().editFirstPort().withPort(81).endPort().endSpec().build());
        s = awaitState(st -> st.services().containsKey(A) && st.services().get(A).port() == 81);
        assertThat(s.endpointsOf(A)).extracting(Endpoint::ip).containsExactly("10.1.0.1");

        client.discovery().v1().endpointSlices().inNamespace("ns").withName("a-1")
                .edit(old -> new EndpointSliceBuilder(old).addToEndpoints(new EndpointBuilder()
                        .withAddresses("10.1.0.2").build()).build());
        s = awaitState(st -> st.endpointsOf(A).size() == 2);

        client.discovery().v1().endpointSlices().inNamespace("ns").withName("a-1").delete();
        awaitState(st -> st.endpointsOf(A).isEmpty() && st.services().containsKey(A));

        client.services().inNamespace("ns").withName("a").delete();
        awaitState(st -> st.services().isEmpty());
    }

    @Test
    void headlessAndForeignProxyServicesAreFilteredAndMalformedOnesSkipped() {
        create(service("ns", "a", "10.0.0.1", 80));
        create(slice("ns", "a-1", "a", 8080, "10.1.0.1"));
        // Headless: neither the Service nor its labelled slice may show up.
        create(service("ns", "h", "None", 80));
        create(sliceBuilder("ns", "h-1", "h", 8080).editMetadata().addToLabels(ModelConverter.HEADLESS_LABEL, "")
                .endMetadata().addToEndpoints(new EndpointBuilder().withAddresses("10.1.0.7").build()).build());
        // A headless-labelled slice of a normal Service is skipped too.
        create(sliceBuilder("ns", "a-h", "a", 8080).editMetadata().addToLabels(ModelConverter.HEADLESS_LABEL, "")
                .endMetadata().addToEndpoints(new EndpointBuilder().withAddresses("10.1.0.8").build()).build());
        // Another proxy's Service.
        create(serviceBuilder("ns", "c", "10.0.0.3", 80).editMetadata()
                .addToLabels(ModelConverter.SERVICE_PROXY_NAME_LABEL, "other-proxy").endMetadata().build());
        // Malformed (the mock server does not validate), next to a good neighbour.
        create(service("ns", "bad", "10.0.0.300", 80));
        create(service("ns", "b", "10.0.0.2", 80));
        client.nodes().resource(Fixtures.node("some-other-node", "zone-z", "192.0.2.9")).create();

        start(tracker);
        await().atMost(WAIT).until(tracker::initialized);
        ProxyState s = tracker.drain().state();
        assertThat(s.services()).containsOnlyKeys(A, B);
        assertThat(s.endpointsOf(A)).extracting(Endpoint::ip).containsExactly("10.1.0.1");
        assertThat(s.node().labels()).as("another node's labels are not ours").isEmpty();

        // Fixing the malformed Service makes it program.
        client.services().inNamespace("ns").withName("bad").edit(old -> new ServiceBuilder(old).editSpec()
                .withClusterIP("10.0.0.30").withClusterIPs("10.0.0.30").endSpec().build());
        awaitState(st -> st.services().containsKey(spn("ns", "bad", "p")));
    }

    @Test
    void aConfiguredProxyNameServesOnlyItsServices() {
        ChangeTracker named = new ChangeTracker(NODE, new ProxyMetrics("test"), "pointsman");
        create(service("ns", "a", "10.0.0.1", 80));
        create(serviceBuilder("ns", "b", "10.0.0.2", 80).editMetadata()
                .addToLabels(ModelConverter.SERVICE_PROXY_NAME_LABEL, "pointsman").endMetadata().build());
        start(named);
        await().atMost(WAIT).until(named::initialized);
        assertThat(named.drain().state().services()).containsOnlyKeys(B);
    }

    @Test
    void thisNodesUpdatesArrive() {
        client.nodes().resource(Fixtures.node(NODE, "zone-a", "192.0.2.1")).create();
        start(tracker);
        await().atMost(WAIT).until(tracker::initialized);
        assertThat(tracker.drain().state().node().zone()).isEqualTo("zone-a");
        client.nodes().withName(NODE).edit(n -> new io.fabric8.kubernetes.api.model.NodeBuilder(n).editMetadata()
                .addToLabels("topology.kubernetes.io/zone", "zone-b").endMetadata().build());
        awaitState(st -> st.node().zone().equals("zone-b"));
    }
}
