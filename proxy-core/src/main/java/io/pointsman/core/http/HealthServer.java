package io.pointsman.core.http;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.HostPort;
import io.pointsman.core.metrics.ProxyMetrics;
import java.util.Map;

/**
 * The proxy health server (upstream's {@code healthzBindAddress}, default {@value #DEFAULT_BIND_ADDRESS}):
 * {@code /healthz} and {@code /livez} answer 200 or 503 with upstream's JSON body, and count
 * themselves in {@code kubeproxy_proxy_healthz_total} / {@code kubeproxy_proxy_livez_total}.
 */
public final class HealthServer implements AutoCloseable {
    public static final String DEFAULT_BIND_ADDRESS = "0.0.0.0:10256";

    private final HttpEndpoint endpoint;

    /** @param bindAddress "ip:port"; port 0 picks a free port (see {@link #port()}) */
    public HealthServer(String bindAddress, ProxyHealth health, ProxyMetrics metrics) {
        requireNonNull(health, "health");
        requireNonNull(metrics, "metrics");
        HostPort bind = HostPort.parse("healthzBindAddress", bindAddress);
        endpoint = new HttpEndpoint("health server", bind, Map.of(
                "/healthz", () -> {
                    ProxyHealth.Report r = health.healthz();
                    metrics.healthzRequest(r.code());
                    return Reply.json(r.code(), r.json());
                },
                "/livez", () -> {
                    ProxyHealth.Report r = health.livez();
                    metrics.livezRequest(r.code());
                    return Reply.json(r.code(), r.json());
                }));
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
