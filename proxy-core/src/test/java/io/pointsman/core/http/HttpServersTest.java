package io.pointsman.core.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.config.ConfigException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.IpFamily;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Both servers on 127.0.0.1, a free port each, asked by a real HTTP client. */
class HttpServersTest {
    private final HttpClient client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final ProxyMetrics metrics = new ProxyMetrics("iptables");
    private final MutableClock clock = new MutableClock(Instant.parse("2026-09-30T09:40:02.118Z"));
    private final AtomicBoolean eligible = new AtomicBoolean(true);
    private final ProxyHealth health = new ProxyHealth(Duration.ofSeconds(60), clock, eligible::get);
    private final AtomicReference<String> config = new AtomicReference<>("{\"kubeproxy.config.k8s.io\":{\"mode\":\"iptables\"}}");
    private HealthServer healthServer;
    private MetricsServer metricsServer;

    @AfterEach
    void close() {
        if (healthServer != null) {
            healthServer.close();
        }
        if (metricsServer != null) {
            metricsServer.close();
        }
    }

    @Test
    void livezAndHealthzFollowTheProxyHealthAndCountThemselves() throws Exception {
        healthServer = new HealthServer("127.0.0.1:0", health, metrics);
        healthServer.start();
        int port = healthServer.port();
        assertThat(port).isPositive();
        health.updated(IpFamily.IPv4);

        HttpResponse<String> livez = get(port, "/livez");
        assertThat(livez.statusCode()).isEqualTo(200);
        assertThat(livez.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(livez.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
        assertThat(livez.body()).isEqualTo("{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\","
                + "\"currentTime\":\"2026-09-30T09:40:02.118Z\",\"healthy\":true,"
                + "\"status\":{\"IPv4\":{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\",\"healthy\":true}}}");

        HttpResponse<String> healthz = get(port, "/healthz");
        assertThat(healthz.statusCode()).isEqualTo(200);
        assertThat(healthz.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(healthz.body()).contains("\"nodeEligible\":true,\"healthy\":true");

        eligible.set(false);
        assertThat(get(port, "/healthz").statusCode()).isEqualTo(503);
        assertThat(get(port, "/livez").statusCode()).isEqualTo(200);

        eligible.set(true);
        health.queuedUpdate(IpFamily.IPv4);
        clock.advance(Duration.ofSeconds(61));
        HttpResponse<String> late = get(port, "/livez");
        assertThat(late.statusCode()).isEqualTo(503);
        assertThat(late.body()).contains("\"healthy\":false");
        assertThat(get(port, "/healthz").statusCode()).isEqualTo(503);

        assertThat(metrics.scrape())
                .contains("kubeproxy_proxy_healthz_total{code=\"200\"} 1.0\n")
                .contains("kubeproxy_proxy_healthz_total{code=\"503\"} 2.0\n")
                .contains("kubeproxy_proxy_livez_total{code=\"200\"} 2.0\n")
                .contains("kubeproxy_proxy_livez_total{code=\"503\"} 1.0\n");
    }

    @Test
    void metricsServerEndpoints() throws Exception {
        metricsServer = new MetricsServer("127.0.0.1:0", metrics, config::get);
        metricsServer.start();
        int port = metricsServer.port();
        metrics.syncDuration(IpFamily.IPv4, Duration.ofMillis(7), true);

        HttpResponse<String> mode = get(port, "/proxyMode");
        assertThat(mode.statusCode()).isEqualTo(200);
        assertThat(mode.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
        assertThat(mode.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
        assertThat(mode.body()).isEqualTo("iptables");

        HttpResponse<String> scrape = get(port, "/metrics");
        assertThat(scrape.statusCode()).isEqualTo(200);
        assertThat(scrape.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(scrape.body())
                .contains("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram\n")
                .contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"0.008\"} 1\n");

        HttpResponse<String> healthz = get(port, "/healthz");
        assertThat(healthz.statusCode()).isEqualTo(200);
        assertThat(healthz.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
        assertThat(healthz.body()).isEqualTo("ok");

        HttpResponse<String> configz = get(port, "/configz");
        assertThat(configz.statusCode()).isEqualTo(200);
        assertThat(configz.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(configz.body()).isEqualTo("{\"kubeproxy.config.k8s.io\":{\"mode\":\"iptables\"}}");
        config.set("{\"kubeproxy.config.k8s.io\":{\"mode\":\"nftables\"}}");
        assertThat(get(port, "/configz").body()).contains("nftables"); // asked per request
    }

    @Test
    void unknownPathsMethodsAndFailures() throws Exception {
        metricsServer = new MetricsServer("127.0.0.1:0", metrics, () -> {
            throw new IllegalStateException("configuration not loaded yet");
        });
        metricsServer.start();
        int port = metricsServer.port();

        for (String path : new String[] {"/", "/nope", "/healthz/", "/healthzz", "/metrics/slis"}) {
            HttpResponse<String> r = get(port, path);
            assertThat(r.statusCode()).as(path).isEqualTo(404);
            assertThat(r.body()).as(path).isEqualTo("404 page not found\n");
        }
        HttpResponse<String> query = get(port, "/proxyMode?verbose=1");
        assertThat(query.statusCode()).isEqualTo(200);
        assertThat(query.body()).isEqualTo("iptables");

        HttpResponse<String> post = client.send(HttpRequest.newBuilder(uri(port, "/metrics"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");

        HttpResponse<String> head = client.send(HttpRequest.newBuilder(uri(port, "/proxyMode"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
        assertThat(head.body()).isEmpty();

        HttpResponse<String> broken = get(port, "/configz");
        assertThat(broken.statusCode()).isEqualTo(500);
        assertThat(broken.body()).contains("configuration not loaded yet");
        // the server keeps serving after a failed request
        assertThat(get(port, "/healthz").statusCode()).isEqualTo(200);
    }

    @Test
    void aTakenPortIsAClearError() {
        healthServer = new HealthServer("127.0.0.1:0", health, metrics);
        healthServer.start();
        int port = healthServer.port();
        try (MetricsServer second = new MetricsServer("127.0.0.1:" + port, metrics, () -> "{}")) {
            assertThatThrownBy(second::start)
                    .isInstanceOf(UncheckedIOException.class)
                    .hasMessageStartingWith("metrics server: cannot listen on 127.0.0.1:" + port + ": ")
                    .hasMessageContaining("in use");
        }
    }

    @Test
    void closedServersStopAnswering() throws Exception {
        metricsServer = new MetricsServer("127.0.0.1:0", metrics, () -> "{}");
        metricsServer.start();
        int port = metricsServer.port();
        assertThat(get(port, "/healthz").statusCode()).isEqualTo(200);
        metricsServer.close();
        assertThatThrownBy(() -> get(port, "/healthz")).isInstanceOf(ConnectException.class);
        assertThatThrownBy(metricsServer::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already closed");
    }

    @Test
    void badBindAddressesAreRefusedByName() {
        assertThatThrownBy(() -> new HealthServer("localhost:10256", health, metrics))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("healthzBindAddress: \"localhost:10256\"");
        assertThatThrownBy(() -> new MetricsServer("127.0.0.1", metrics, () -> "{}"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("metricsBindAddress: \"127.0.0.1\"");
        assertThat(HealthServer.DEFAULT_BIND_ADDRESS).isEqualTo("0.0.0.0:10256");
        assertThat(MetricsServer.DEFAULT_BIND_ADDRESS).isEqualTo("127.0.0.1:10249");
    }

    private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }
}
