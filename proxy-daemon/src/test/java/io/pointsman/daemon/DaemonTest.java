package io.pointsman.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pointsman.core.config.ProxyConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole daemon in-process, on a copy of examples/, as a dry run: no root needed. */
class DaemonTest {
    private final HttpClient http = HttpClient.newHttpClient();

    static Path repoRoot() {
        String env = System.getenv("POINTSMAN_REPO_ROOT");
        Path p = env != null ? Path.of(env) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("examples"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (expected a folder with examples/)");
        }
        return p;
    }

    private String get(int port, String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    @Test
    void runsTheExampleClusterServesItsEndpointsAndFollowsFileChanges(@TempDir Path dir) throws Exception {
        try (Stream<Path> files = Files.list(repoRoot().resolve("examples"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        ProxyConfig.Builder b = new ProxyConfig.Builder();
        b.metricsBindAddress = "127.0.0.1:0";
        b.healthzBindAddress = "127.0.0.1:0";
        b.minSyncPeriod = Duration.ofMillis(100);
        try (Daemon daemon = new Daemon(b.build(), dir.toString(), true)) {
            daemon.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> daemon.syncs() >= 1);
            assertThat(get(daemon.metricsPort(), "/proxyMode")).isEqualTo("200 iptables");
            assertThat(get(daemon.metricsPort(), "/metrics"))
                    .contains("kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 1");
            assertThat(get(daemon.healthPort(), "/healthz")).startsWith("200 ").contains("\"nodeEligible\":true");
            assertThat(get(daemon.metricsPort(), "/configz")).contains("\"mode\" : \"iptables\"");

            Files.writeString(dir.resolve("added.yaml"), """
                    apiVersion: v1
                    kind: Service
                    metadata: {namespace: demo, name: added}
                    spec:
                      clusterIP: 10.96.0.77
                      ports: [{name: http, port: 80, protocol: TCP}]
                    """);
            await().atMost(Duration.ofSeconds(20)).until(() -> daemon.syncs() >= 2);
            assertThat(get(daemon.metricsPort(), "/metrics"))
                    .contains("kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 1");
        }
    }
}
