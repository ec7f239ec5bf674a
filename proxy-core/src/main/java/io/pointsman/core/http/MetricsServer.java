package io.pointsman.core.http;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.HostPort;
import io.pointsman.core.metrics.ProxyMetrics;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The metrics server (upstream's {@code metricsBindAddress}, default {@value #DEFAULT_BIND_ADDRESS}):
 * {@code /proxyMode} (the running mode), {@code /metrics} (Prometheus text 0.0.4),
 * {@code /healthz} ("ok" while the process serves) and {@code /configz} (the effective configuration).
 */
public final class MetricsServer implements AutoCloseable {
    public static final String DEFAULT_BIND_ADDRESS = "127.0.0.1:10249";

    private final HttpEndpoint endpoint;

    /**
     * @param bindAddress "ip:port"; port 0 picks a free port (see {@link #port()})
     * @param metrics the registry to expose; its {@link ProxyMetrics#mode()} is what {@code /proxyMode} answers
     * @param configz the effective configuration as JSON, produced per request
     */
    public MetricsServer(String bindAddress, ProxyMetrics metrics, Supplier<String> configz) {
        requireNonNull(metrics, "metrics");
        requireNonNull(configz, "configz");
        HostPort bind = HostPort.parse("metricsBindAddress", bindAddress);
        endpoint = new HttpEndpoint("metrics server", bind, Map.of(
                "/proxyMode", () -> Reply.text(200, metrics.mode()),
                "/metrics", () -> new Reply(200, ProxyMetrics.CONTENT_TYPE,
                        metrics.scrape().getBytes(StandardCharsets.UTF_8)),
                "/healthz", () -> Reply.text(200, "ok"),
                "/configz", () -> Reply.json(200, configz.get())));
    }

    /** Binds and serves; fails with an {@link java.io.UncheckedIOException} naming the address if it cannot bind. */
    public void start() {
        endpoint.start();
    }

    public int port() {
        return endpoint.port();
    }

    @Override
    public void close() {
        endpoint.close();
    }
}
