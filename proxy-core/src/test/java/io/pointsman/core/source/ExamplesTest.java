package io.pointsman.core.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The example cluster under examples/ must stay valid: every file parses, every object converts. */
class ExamplesTest {
    static final String EXAMPLE_NODE = "pointsman-example-node";

    /** The repository root: $POINTSMAN_REPO_ROOT (set by surefire), else the first parent of user.dir holding examples/. */
    static Path repoRoot() {
        String env = System.getenv("POINTSMAN_REPO_ROOT");
        if (env != null && !env.isEmpty() && Files.isDirectory(Path.of(env, "examples"))) {
            return Path.of(env);
        }
        for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("examples")) && Files.isRegularFile(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the repository root (expected: POINTSMAN_REPO_ROOT or a parent "
                + "of " + System.getProperty("user.dir") + " with examples/ and pom.xml)");
    }

    static Stream<Path> exampleFiles() throws IOException {
        List<Path> files = ManifestSource.files(repoRoot().resolve("examples"));
        assertThat(files).as("example manifests").isNotEmpty();
        return files.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("exampleFiles")
    void everyExampleFileParsesAndConverts(Path file) throws IOException {
        ManifestSource.Manifests m = ManifestSource.read(file);
        assertThat(m.skippedDocuments()).isZero();
        assertThat(m.objects()).isNotEmpty();
        for (HasMetadata o : m.objects().values()) {
            assertThatCode(() -> {
                if (o instanceof Service s) {
                    ModelConverter.servicePorts(s, w -> { throw new AssertionError(file + ": " + w); });
                } else if (o instanceof EndpointSlice es) {
                    ModelConverter.endpoints(es);
                } else if (o instanceof Node n) {
                    assertThat(n.getMetadata().getName()).isEqualTo(EXAMPLE_NODE);
                    ModelConverter.nodeInfo(n, w -> { throw new AssertionError(file + ": " + w); });
                }
            }).as("%s in %s", o.getMetadata().getName(), file).doesNotThrowAnyException();
        }

        ChangeTracker tracker = new ChangeTracker(EXAMPLE_NODE, new ProxyMetrics("test"));
        ManifestSource.readInto(file, tracker);
        ProxyState state = tracker.drain().state();
        assertThat(!state.services().isEmpty() || !state.node().labels().isEmpty())
                .as("%s contributes services or node information", file).isTrue();
    }

    @Test
    void theWholeExampleClusterProgramsAsDescribed() {
        ChangeTracker tracker = new ChangeTracker(EXAMPLE_NODE, new ProxyMetrics("test"));
        ManifestSource.readInto(repoRoot().resolve("examples"), tracker);
        ProxyState s = tracker.drain().state();
        ServicePortName web = new ServicePortName("demo", "web", "http", Protocol.TCP);
        ServicePortName dnsUdp = new ServicePortName("kube-system", "kube-dns", "dns", Protocol.UDP);
        ServicePortName dnsTcp = new ServicePortName("kube-system", "kube-dns", "dns-tcp", Protocol.TCP);
        ServicePortName shop = new ServicePortName("shop", "storefront", "http", Protocol.TCP);
        ServicePortName syslog = new ServicePortName("logging", "syslog", "syslog", Protocol.UDP);
        ServicePortName empty = new ServicePortName("demo", "nobody-home", "http", Protocol.TCP);
        ServicePortName lb = new ServicePortName("demo", "public-api", "https", Protocol.TCP);
        assertThat(s.services()).containsOnlyKeys(web, dnsUdp, dnsTcp, shop, syslog, empty, lb);
        assertThat(s.endpoints()).containsOnlyKeys(web, dnsUdp, dnsTcp, shop, syslog, lb);
        assertThat(s.endpointsOf(dnsUdp)).hasSize(3); // two IPv4, one IPv6
        assertThat(s.endpointsOf(shop)).filteredOn(ep -> ep.serving() && ep.terminating()).hasSize(1);
        assertThat(s.services().get(shop).nodePort()).isEqualTo(30080);
        assertThat(s.services().get(syslog).affinityTimeoutSeconds()).isEqualTo(600);
        assertThat(s.services().get(lb).loadBalancerIPs()).containsExactly("203.0.113.200");
        assertThat(s.node().zone()).isEqualTo("zone-a");
        assertThat(s.node().addresses()).containsExactly("192.0.2.10");
    }
}
