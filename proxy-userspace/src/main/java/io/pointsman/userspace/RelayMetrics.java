package io.pointsman.userspace;

import io.micrometer.core.instrument.Counter;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Protocol;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The relay's own metrics, {@code pointsman_userspace_*}. Labels are kept to low cardinality
 * (protocol, direction, reason): no per-service or per-endpoint series, so a node with thousands
 * of Services exposes a few dozen series. Hot-path meters are looked up once, here.
 */
final class RelayMetrics {
    /** Per protocol: index 0 TCP, 1 UDP. */
    private final AtomicLong[] active = new AtomicLong[2];
    private final Counter[] total = new Counter[2];
    private final Counter[] toEndpoint = new Counter[2];
    private final Counter[] toClient = new Counter[2];
    private final Counter[] noEndpoints = new Counter[2];
    private final Counter[] refused = new Counter[2];
    private final Counter[] timeout = new Counter[2];
    private final Counter[] otherFailure = new Counter[2];
    private final Counter udpDropped;
    private final Counter bindFailures;
    private final AtomicLong listeners;
    private final AtomicLong listenersPending;

    RelayMetrics(ProxyMetrics metrics) {
        for (Protocol p : new Protocol[] {Protocol.TCP, Protocol.UDP}) {
            int i = index(p);
            Map<String, String> proto = Map.of("protocol", p.name());
            active[i] = metrics.gauge("pointsman_userspace_connections_active",
                    "Relayed connections (TCP) or client sessions (UDP) open now", proto);
            total[i] = metrics.counter("pointsman.userspace.connections",
                    "Relayed connections (TCP) or client sessions (UDP) accepted", proto);
            toEndpoint[i] = metrics.counter("pointsman.userspace.bytes", "Payload bytes relayed",
                    Map.of("protocol", p.name(), "direction", "to_endpoint"));
            toClient[i] = metrics.counter("pointsman.userspace.bytes", "Payload bytes relayed",
                    Map.of("protocol", p.name(), "direction", "to_client"));
            noEndpoints[i] = metrics.counter("pointsman.userspace.no.endpoints",
                    "Connections or sessions refused because the service port had no endpoints", proto);
            refused[i] = dialFailures(metrics, p, "refused");
            timeout[i] = dialFailures(metrics, p, "timeout");
            otherFailure[i] = dialFailures(metrics, p, "error");
        }
        udpDropped = metrics.counter("pointsman.userspace.udp.dropped",
                "UDP datagrams dropped because the session's socket could not take them", Map.of());
        bindFailures = metrics.counter("pointsman.userspace.bind.failures",
                "Failed attempts to bind a listener (e.g. a node port held by another process)", Map.of());
        listeners = metrics.gauge("pointsman_userspace_listeners", "Listeners bound and serving", Map.of());
        listenersPending = metrics.gauge("pointsman_userspace_listeners_pending",
                "Listeners waiting to be bound (their address is in use; retried)", Map.of());
    }

    private static Counter dialFailures(ProxyMetrics metrics, Protocol p, String reason) {
        return metrics.counter("pointsman.userspace.dial.failures",
                "Dials to an endpoint that failed (refused, timed out, or another error)",
                Map.of("protocol", p.name(), "reason", reason));
    }

    private static int index(Protocol p) {
        return p == Protocol.UDP ? 1 : 0;
    }

    void opened(Protocol p) {
        total[index(p)].increment();
        active[index(p)].incrementAndGet();
    }

    void closed(Protocol p) {
        active[index(p)].decrementAndGet();
    }

    long active(Protocol p) {
        return active[index(p)].get();
    }

    void toEndpoint(Protocol p, int bytes) {
        toEndpoint[index(p)].increment(bytes);
    }

    void toClient(Protocol p, int bytes) {
        toClient[index(p)].increment(bytes);
    }

    double bytesToEndpoint(Protocol p) {
        return toEndpoint[index(p)].count();
    }

    double bytesToClient(Protocol p) {
        return toClient[index(p)].count();
    }

    void noEndpoints(Protocol p) {
        noEndpoints[index(p)].increment();
    }

    void dialFailure(Protocol p, DialFailure reason) {
        Counter c = switch (reason) {
            case REFUSED -> refused[index(p)];
            case TIMEOUT -> timeout[index(p)];
            case ERROR -> otherFailure[index(p)];
        };
        c.increment();
    }

    double dialFailures(Protocol p) {
        int i = index(p);
        return refused[i].count() + timeout[i].count() + otherFailure[i].count();
    }

    void udpDropped() {
        udpDropped.increment();
    }

    void bindFailure() {
        bindFailures.increment();
    }

    void listenerBound() {
        listeners.incrementAndGet();
    }

    void listenerClosed() {
        listeners.decrementAndGet();
    }

    void listenerPending(int delta) {
        listenersPending.addAndGet(delta);
    }

    /** Why a dial failed, as the metric's reason label says it. */
    enum DialFailure {
        REFUSED, TIMEOUT, ERROR;

        static DialFailure of(Throwable cause) {
            if (cause instanceof io.netty.channel.ConnectTimeoutException) {
                return TIMEOUT;
            }
            if (cause instanceof java.net.ConnectException
                    || cause instanceof java.net.PortUnreachableException) {
                return REFUSED;
            }
            return ERROR;
        }
    }
}
