package io.pointsman.core.source;

import static io.pointsman.core.source.Fixtures.NODE;
import static io.pointsman.core.source.Fixtures.spn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestSourceTest {
    private static final Duration POLL = Duration.ofMillis(50);
    private static final ServicePortName A = spn("ns", "a", "p");
    private static final ServicePortName B = spn("default", "b", "p");

    @TempDir
    Path dir;

    private final ChangeTracker tracker = new ChangeTracker(NODE, new ProxyMetrics("test"));
    private ManifestSource source;

    @AfterEach
    void stop() {
        if (source != null) {
            source.close();
        }
    }

    static String service(String ns, String name, String ip, int port) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {%s name: %s}
                spec:
                  clusterIP: %s
                  ports: [{name: p, port: %d, protocol: TCP}]
                """.formatted(ns == null ? "" : "namespace: " + ns + ",", name, ip, port);
    }

    static String slice(String ns, String name, String svc, String... ips) {
        return """
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {namespace: %s, name: %s, labels: {kubernetes.io/service-name: %s}}
                addressType: IPv4
                ports: [{name: p, port: 8080, protocol: TCP}]
                endpoints: [%s]
                """.formatted(ns, name, svc, String.join(", ",
                java.util.Arrays.stream(ips).map(ip -> "{addresses: [" + ip + "]}").toList()));
    }

    private ProxyState awaitState(Predicate<ProxyState> condition) {
        AtomicReference<ProxyState> last = new AtomicReference<>();
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> {
            ProxyState s = tracker.drain().state();
            last.set(s);
            return condition.test(s);
        });
        return last.get();
    }

    @Test
    void initialReadFeedsEverythingAndMarksSynced() throws IOException {
        Files.writeString(dir.resolve("a.yaml"), "---\n" + service("ns", "a", "10.0.0.1", 80) + "---\n"
                + slice("ns", "a-1", "a", "10.1.0.1", "10.1.0.2") + "---\n# only a comment\n---\n"
                + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n");
        Files.writeString(dir.resolve("b.yml"), service(null, "b", "10.0.0.2", 80));
        Files.writeString(dir.resolve("node.json"), """
                {"apiVersion": "v1", "kind": "Node",
                 "metadata": {"name": "node-a", "labels": {"topology.kubernetes.io/zone": "zone-a"}}}
                """);
        Files.writeString(dir.resolve("notes.txt"), "not a manifest: ignored");
        Files.writeString(dir.resolve(".hidden.yaml"), service("ns", "hidden", "10.0.0.3", 80));

        source = new ManifestSource(dir, POLL);
        source.start(tracker);
        assertThat(tracker.initialized()).isTrue();
        ProxyState s = tracker.drain().state();
        assertThat(s.services()).containsOnlyKeys(A, B);
        assertThat(s.endpointsOf(A)).extracting(Endpoint::ip).containsExactly("10.1.0.1", "10.1.0.2");
        assertThat(s.node().zone()).isEqualTo("zone-a");
    }

    @Test
    void aFileChangeIsReReadAndVanishedObjectsAreDeleted() throws IOException {
        Path file = dir.resolve("cluster.yaml");
        Files.writeString(file, service("ns", "a", "10.0.0.1", 80) + "---\n" + slice("ns", "a-1", "a", "10.1.0.1")
                + "---\n" + service("ns", "c", "10.0.0.3", 80));
        source = new ManifestSource(dir, POLL);
        source.start(tracker);
        assertThat(tracker.drain().state().services()).hasSize(2);

        // Change endpoints, drop Service c.
        Files.writeString(file, service("ns", "a", "10.0.0.1", 80) + "---\n"
                + slice("ns", "a-1", "a", "10.1.0.1", "10.1.0.22"));
        ProxyState s = awaitState(st -> st.endpointsOf(A).size() == 2);
        assertThat(s.services()).containsOnlyKeys(A);

        // A new file adds a Service; deleting it removes the Service again.
        Path extra = dir.resolve("extra.yaml");
        Files.writeString(extra, service(null, "b", "10.0.0.2", 80));
        awaitState(st -> st.services().containsKey(B));
        Files.delete(extra);
        awaitState(st -> !st.services().containsKey(B) && st.services().containsKey(A));
    }

    @Test
    void aBadDocumentIsSkippedAndTheRestPrograms() throws IOException {
        Files.writeString(dir.resolve("mixed.yaml"), service("ns", "a", "10.0.0.1", 80)
                + "---\napiVersion: v1\nkind: Service\nmetadata: {namespace: ns, name: broken\n  spec: [oops\n"
                + "---\napiVersion: v1\nkind: Service\nmetadata: {namespace: ns, name: wrongtype}\n"
                + "spec: {clusterIP: 10.0.0.9, ports: [{port: eighty}]}\n"
                + "---\njust: a map without kind\n"
                + "---\n" + service(null, "b", "10.0.0.2", 80)
                + "---\n" + service("ns", "malformed", "10.0.0.999", 80));
        ManifestSource.Manifests m = ManifestSource.read(dir);
        assertThat(m.skippedDocuments()).isEqualTo(3);
        assertThat(m.services()).extracting(svc -> svc.getMetadata().getName()).containsExactly("a", "b", "malformed");

        source = new ManifestSource(dir, POLL);
        source.start(tracker);
        assertThat(tracker.drain().state().services()).containsOnlyKeys(A, B);
    }

    @Test
    void aSingleFileWithAListAndAMissingPath() throws IOException {
        Path file = dir.resolve("list.json");
        Files.writeString(file, """
                {"apiVersion": "v1", "kind": "List", "items": [
                  {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "ns", "name": "a"},
                   "spec": {"clusterIP": "10.0.0.1", "ports": [{"name": "p", "port": 80, "protocol": "UDP"}]}}
                ]}
                """);
        ManifestSource.readInto(file, tracker);
        assertThat(tracker.initialized()).isTrue();
        assertThat(tracker.drain().state().services())
                .containsOnlyKeys(new ServicePortName("ns", "a", "p", Protocol.UDP));

        assertThatThrownBy(() -> new ManifestSource(dir.resolve("nope")).start(
                new ChangeTracker(NODE, new ProxyMetrics("test"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nope: no such file or directory (expected: a manifest file or a directory");
    }

    @Test
    void aVanishedPathKeepsTheLastState() throws Exception {
        Path sub = Files.createDirectory(dir.resolve("sub"));
        Path file = sub.resolve("a.yaml");
        Files.writeString(file, service("ns", "a", "10.0.0.1", 80));
        source = new ManifestSource(sub, POLL);
        source.start(tracker);
        tracker.drain();
        Files.delete(file);
        Files.delete(sub);
        Thread.sleep(POLL.toMillis() * 6);
        ChangeTracker.Drained d = tracker.drain();
        assertThat(d.changes().isEmpty()).isTrue();
        assertThat(d.state().services()).containsOnlyKeys(A);
        // When it comes back with different content, it is read again.
        Files.createDirectory(sub);
        Files.writeString(file, service("ns", "a", "10.0.0.1", 81));
        awaitState(st -> st.services().get(A).port() == 81);
    }

    @Test
    void yamlDocumentSplitting() {
        assertThat(ManifestSource.splitYamlDocuments("a: 1\n---\nb: 2\n--- # c\nc: 3\n---x: 4\n"))
                .containsExactly("a: 1\n", "b: 2\n", "c: 3\n---x: 4\n\n");
        assertThat(ManifestSource.splitYamlDocuments("---\na: 1\n")).containsExactly("a: 1\n\n");
        assertThat(ManifestSource.splitYamlDocuments("a: 1\r\n---\r\nb: 2")).hasSize(2);
    }
}
