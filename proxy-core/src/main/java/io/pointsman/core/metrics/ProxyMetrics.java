package io.pointsman.core.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.pointsman.core.model.IpFamily;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Upstream kube-proxy's {@code kubeproxy_*} metrics on a Micrometer Prometheus registry. Names,
 * types, labels and buckets follow pkg/proxy/metrics; only what Pointsman implements is registered.
 */
public final class ProxyMetrics {
    /** ExponentialBuckets(0.001, 2, 15): 1 ms … 16.384 s. */
    static final Duration[] SYNC_BUCKETS = syncBuckets();

    private final PrometheusMeterRegistry registry;
    private final String mode;
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> gauges = new ConcurrentHashMap<>();

    public ProxyMetrics(String mode) {
        this.mode = mode;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public String mode() {
        return mode;
    }

    /** The Prometheus text exposition (format 0.0.4). */
    public String scrape() {
        return registry.scrape();
    }

    private static Duration[] syncBuckets() {
        Duration[] b = new Duration[15];
        double v = 0.001;
        for (int i = 0; i < b.length; i++) {
            b[i] = Duration.ofNanos(Math.round(v * 1e9));
            v *= 2;
        }
        return b;
    }

    private Timer syncTimer(String name, String help, IpFamily family) {
        return timers.computeIfAbsent(name + family, k -> Timer.builder(name)
                .description(help)
                .tag("ip_family", family.name())
                .serviceLevelObjectives(SYNC_BUCKETS)
                .register(registry));
    }

    /** One sync of one family finished successfully or not; records the duration histograms. */
    public void syncDuration(IpFamily family, Duration took, boolean full) {
        syncTimer("kubeproxy.sync.proxy.rules.duration", "SyncProxyRules latency in seconds", family).record(took);
        if (full) {
            syncTimer("kubeproxy.sync.full.proxy.rules.duration", "SyncProxyRules latency in seconds for full resyncs",
                    family).record(took);
        } else {
            syncTimer("kubeproxy.sync.partial.proxy.rules.duration",
                    "SyncProxyRules latency in seconds for partial resyncs", family).record(took);
        }
    }

    /** A sync finished successfully at {@code when}. */
    public void lastSync(IpFamily family, Instant when) {
        gauge("kubeproxy.sync.proxy.rules.last.timestamp.seconds",
                "The last time proxy rules were successfully synced", Map.of("ip_family", family.name()))
                .set(when.getEpochSecond());
    }

    /** A sync was requested at {@code when}. */
    public void lastQueued(IpFamily family, Instant when) {
        gauge("kubeproxy.sync.proxy.rules.last.queued.timestamp.seconds",
                "The last time a sync of proxy rules was queued", Map.of("ip_family", family.name()))
                .set(when.getEpochSecond());
    }

    public void serviceChange() {
        counter("kubeproxy.sync.proxy.rules.service.changes", "Cumulative proxy rules Service changes", Map.of())
                .increment();
    }

    public void endpointChange() {
        counter("kubeproxy.sync.proxy.rules.endpoint.changes", "Cumulative proxy rules Endpoint changes", Map.of())
                .increment();
    }

    /** Registers the pending-change gauges, read from the change tracker at scrape time. */
    public void pendingChanges(Supplier<Number> services, Supplier<Number> endpoints) {
        Gauge.builder("kubeproxy.sync.proxy.rules.service.changes.pending", services)
                .description("Pending proxy rules Service changes").register(registry);
        Gauge.builder("kubeproxy.sync.proxy.rules.endpoint.changes.pending", endpoints)
                .description("Pending proxy rules Endpoint changes").register(registry);
    }

    /** iptables mode: rules owned (total) and rules written by the last sync (last), per table. */
    public void iptablesRules(String table, IpFamily family, long total, long last) {
        Map<String, String> tags = Map.of("table", table, "ip_family", family.name());
        gauge("kubeproxy.sync.proxy.rules.iptables.total", "Total number of iptables rules owned by kube-proxy", tags)
                .set(total);
        gauge("kubeproxy.sync.proxy.rules.iptables.last",
                "Number of iptables rules written by kube-proxy in last sync", tags).set(last);
    }

    /** iptables mode: a restore failed. */
    public void restoreFailure(IpFamily family, boolean partial) {
        Map<String, String> tags = Map.of("ip_family", family.name());
        counter("kubeproxy.sync.proxy.rules.iptables.restore.failures",
                "Cumulative proxy iptables restore failures", tags).increment();
        if (partial) {
            counter("kubeproxy.sync.proxy.rules.iptables.partial.restore.failures",
                    "Cumulative proxy iptables partial restore failures", tags).increment();
        }
    }

    /** Service ports with a Local policy and no local endpoints, after the last sync. */
    public void noLocalEndpoints(String trafficPolicy, IpFamily family, long count) {
        gauge("kubeproxy.sync.proxy.rules.no.local.endpoints.total",
                "Number of services with a Local traffic policy and no endpoints",
                Map.of("traffic_policy", trafficPolicy, "ip_family", family.name())).set(count);
    }

    public void healthzRequest(int code) {
        counter("kubeproxy.proxy.healthz", "Cumulative proxy healthz HTTP status", Map.of("code", Integer.toString(code)))
                .increment();
    }

    public void livezRequest(int code) {
        counter("kubeproxy.proxy.livez", "Cumulative proxy livez HTTP status", Map.of("code", Integer.toString(code)))
                .increment();
    }

    /** A counter by Micrometer name (dots), created on first use. */
    public Counter counter(String name, String help, Map<String, String> tags) {
        return counters.computeIfAbsent(name + tags, k -> {
            Counter.Builder b = Counter.builder(name).description(help);
            tags.forEach(b::tag);
            return b.register(registry);
        });
    }

    /** A gauge by Micrometer name (dots), created on first use, holding a settable value. */
    public AtomicLong gauge(String name, String help, Map<String, String> tags) {
        return gauges.computeIfAbsent(name + tags, k -> {
            AtomicLong value = new AtomicLong();
            Gauge.Builder<AtomicLong> b = Gauge.builder(name, value, AtomicLong::get).description(help);
            tags.forEach(b::tag);
            b.register(registry);
            return value;
        });
    }
}
