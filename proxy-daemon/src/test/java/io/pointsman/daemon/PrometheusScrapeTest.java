package io.pointsman.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Tools;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's package) on loopback scrapes the daemon (in-process, on examples/,
 * dry run): the target is up and the sync histogram is queryable, labels and all.
 */
class PrometheusScrapeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void prometheusScrapesTheDaemonAndFindsTheSyncHistogram(@TempDir Path tmp) throws Exception {
        Tools.require("prometheus");
        ProxyConfig.Builder b = new ProxyConfig.Builder();
        b.metricsBindAddress = "127.0.0.1:0";
        b.healthzBindAddress = "127.0.0.1:0";
        b.minSyncPeriod = Duration.ofMillis(100);
        try (Daemon daemon = new Daemon(b.build(), DaemonTest.repoRoot().resolve("examples").toString(), true)) {
            daemon.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> daemon.syncs() >= 1);

            int port = freePort();
            Path config = tmp.resolve("prometheus.yml");
            Files.writeString(config, """
                    global:
                      scrape_interval: 1s
                      scrape_timeout: 1s
                    scrape_configs:
                      - job_name: pointsman
                        static_configs:
                          - targets: ["127.0.0.1:%d"]
                    """.formatted(daemon.metricsPort()));
            Path log = tmp.resolve("prometheus.log");
            Process prometheus = new ProcessBuilder(List.of(
                    Kernel.which("prometheus").toString(),
                    "--config.file=" + config,
                    "--storage.tsdb.path=" + tmp.resolve("data"),
                    "--web.listen-address=127.0.0.1:" + port))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                String base = "http://127.0.0.1:" + port;
                await("target up == 1 (Prometheus log: " + log + ")").atMost(Duration.ofSeconds(60))
                        .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                        .until(() -> "1".equals(firstValue(query(base, "up{job=\"pointsman\"}"))));

                JsonNode result = query(base, "kubeproxy_sync_proxy_rules_duration_seconds_count");
                assertThat(result.size()).as(result.toString()).isEqualTo(1);
                JsonNode series = result.get(0);
                assertThat(series.path("metric").path("ip_family").asText()).isEqualTo("IPv4");
                assertThat(series.path("metric").path("job").asText()).isEqualTo("pointsman");
                assertThat(Double.parseDouble(series.path("value").get(1).asText())).isGreaterThanOrEqualTo(1.0);

                // Prometheus' own view of the scrape: every sample accepted.
                JsonNode scraped = query(base, "scrape_samples_scraped{job=\"pointsman\"}");
                assertThat(Double.parseDouble(firstValue(scraped))).isGreaterThan(10);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError(e.getMessage() + "\n---- prometheus log ----\n" + tail(log), e);
            } finally {
                prometheus.destroy();
                if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                    prometheus.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            }
            assertThat(prometheus.isAlive()).isFalse();
        }
    }

    private JsonNode query(String base, String promql) throws IOException, InterruptedException {
        URI uri = URI.create(base + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.path("status").asText()).as(r.body()).isEqualTo("success");
        return body.path("data").path("result");
    }

    private static String firstValue(JsonNode result) {
        return result.size() == 0 ? null : result.get(0).path("value").get(1).asText();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }
}
