package io.pointsman.core.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.pointsman.core.model.IpFamily;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Upstream kube-proxy's {@code kubeproxy_*} metrics on a Micrometer Prometheus registry. Names,
 * types, labels, help and buckets follow pkg/proxy/metrics; only what Pointsman implements is
 * registered, and labelled series appear on first use, as upstream's vectors do.
 *
 * <p>Counters are Micrometer counters (their Prometheus names come out as upstream's). Gauges and
 * histograms go through an {@link ExactNameCollector} on the underlying Prometheus registry: the
 * Prometheus Java client would strip {@code _total} from upstream's gauges
 * {@code kubeproxy_sync_proxy_rules_iptables_total} and {@code ..._no_local_endpoints_total}, and
 * Micrometer timers add a {@code _max} gauge upstream does not have.
 */
public final class ProxyMetrics {
    /** The content type of {@link #scrape()}: Prometheus text format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    /** ExponentialBuckets(0.001, 2, 15): 0.001 … 16.384 seconds. */
    static final double[] SYNC_BUCKETS = exponential(0.001, 2, 15);

    /** 0, 0.25, 0.5, 1…59 by 1, 60…115 by 5, 120…300 by 30 seconds (upstream's merge() leads with 0). */
    static final double[] NETWORK_PROGRAMMING_BUCKETS = networkProgrammingBuckets();

    private static final String IP_FAMILY = "ip_family";

    private final PrometheusMeterRegistry registry;
    private final String mode;
    private final ExactNameCollector exact = new ExactNameCollector();
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Set<String> counterNames = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicLong> gauges = new ConcurrentHashMap<>();
    private final GaugeFamily servicesPending;
    private final GaugeFamily endpointsPending;

    public ProxyMetrics(String mode) {
        this.mode = mode;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.getPrometheusRegistry().register(exact);
        // Unlabelled metrics exist from the start, at zero, as upstream registers them.
        servicesPending = gaugeFamily("kubeproxy_sync_proxy_rules_service_changes_pending",
                alpha("Pending proxy rules Service changes"), List.of());
        endpointsPending = gaugeFamily("kubeproxy_sync_proxy_rules_endpoint_changes_pending",
                alpha("Pending proxy rules Endpoint changes"), List.of());
        servicesPending.set(List.of(), 0);
        endpointsPending.set(List.of(), 0);
        serviceChanges();
        endpointChanges();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public String mode() {
        return mode;
    }

    /** The Prometheus text exposition (format 0.0.4, see {@link #CONTENT_TYPE}). */
    public String scrape() {
        return registry.scrape();
    }

    /** One sync of one family finished (successfully or not); records the duration histograms. */
    public void syncDuration(IpFamily family, Duration took, boolean full) {
        double seconds = seconds(took);
        List<String> labels = List.of(family.name());
        syncHistogram("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds")
                .observe(labels, seconds);
        if (full) {
            syncHistogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                    "SyncProxyRules latency in seconds for full resyncs").observe(labels, seconds);
        } else {
            syncHistogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                    "SyncProxyRules latency in seconds for partial resyncs").observe(labels, seconds);
        }
    }

    /**
     * A change (Service or endpoint) reached the kernel {@code took} after it was made in the API
     * (e.g. the EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time annotation).
     */
    public void networkProgrammingDuration(IpFamily family, Duration took) {
        histogramFamily("kubeproxy_network_programming_duration_seconds",
                        alpha("In Cluster Network Programming Latency in seconds"), List.of(IP_FAMILY),
                        NETWORK_PROGRAMMING_BUCKETS)
                .observe(List.of(family.name()), seconds(took));
    }

    /** A sync finished successfully at {@code when}. */
    public void lastSync(IpFamily family, Instant when) {
        gaugeFamily("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                        alpha("The last time proxy rules were successfully synced"), List.of(IP_FAMILY))
                .set(List.of(family.name()), epochSeconds(when));
    }

    /** A sync was requested at {@code when}. */
    public void lastQueued(IpFamily family, Instant when) {
        gaugeFamily("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                        alpha("The last time a sync of proxy rules was queued"), List.of(IP_FAMILY))
                .set(List.of(family.name()), epochSeconds(when));
    }

    public void serviceChange() {
        serviceChanges().increment();
    }

    public void endpointChange() {
        endpointChanges().increment();
    }

    /** Binds the pending-change gauges to the change tracker; read at scrape time. Rebinding replaces. */
    public void pendingChanges(Supplier<Number> services, Supplier<Number> endpoints) {
        servicesPending.bind(List.of(), () -> services.get().doubleValue());
        endpointsPending.bind(List.of(), () -> endpoints.get().doubleValue());
    }

    /** iptables mode: rules owned (total) and rules written by the last sync (last), per table. */
    public void iptablesRules(String table, IpFamily family, long total, long last) {
        List<String> names = List.of("table", IP_FAMILY);
        List<String> values = List.of(table, family.name());
        gaugeFamily("kubeproxy_sync_proxy_rules_iptables_total",
                alpha("Total number of iptables rules owned by kube-proxy"), names).set(values, total);
        gaugeFamily("kubeproxy_sync_proxy_rules_iptables_last",
                alpha("Number of iptables rules written by kube-proxy in last sync"), names).set(values, last);
    }

    /** iptables mode: a restore failed (every failure counts; partial ones are counted again apart). */
    public void restoreFailure(IpFamily family, boolean partial) {
        Map<String, String> tags = Map.of(IP_FAMILY, family.name());
        counter("kubeproxy.sync.proxy.rules.iptables.restore.failures",
                alpha("Cumulative proxy iptables restore failures"), tags).increment();
        if (partial) {
            counter("kubeproxy.sync.proxy.rules.iptables.partial.restore.failures",
                    alpha("Cumulative proxy iptables partial restore failures"), tags).increment();
        }
    }

    /** nftables mode: applying a sync transaction failed. */
    public void nftablesSyncFailure(IpFamily family) {
        counter("kubeproxy.sync.proxy.rules.nftables.sync.failures", alpha("Cumulative proxy nftables sync failures"),
                Map.of(IP_FAMILY, family.name())).increment();
    }

    /** nftables mode: deleting stale chains failed. */
    public void nftablesCleanupFailure(IpFamily family) {
        counter("kubeproxy.sync.proxy.rules.nftables.cleanup.failures",
                alpha("Cumulative proxy nftables cleanup failures"), Map.of(IP_FAMILY, family.name())).increment();
    }

    /** Service ports with a Local policy ("internal" or "external") and no local endpoints, after the last sync. */
    public void noLocalEndpoints(String trafficPolicy, IpFamily family, long count) {
        gaugeFamily("kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                        alpha("Number of services with a Local traffic policy and no endpoints"),
                        List.of("traffic_policy", IP_FAMILY))
                .set(List.of(trafficPolicy, family.name()), count);
    }

    public void healthzRequest(int code) {
        counter("kubeproxy.proxy.healthz", alpha("Cumulative proxy healthz HTTP status"),
                Map.of("code", Integer.toString(code))).increment();
    }

    public void livezRequest(int code) {
        counter("kubeproxy.proxy.livez", alpha("Cumulative proxy livez HTTP status"),
                Map.of("code", Integer.toString(code))).increment();
    }

    /**
     * A counter by Micrometer name (dots; exposed with underscores and a {@code _total} suffix),
     * created on first use.
     */
    public Counter counter(String name, String help, Map<String, String> tags) {
        return counters.computeIfAbsent(name + new TreeMap<>(tags), k -> {
            String exposed = prometheusName(name);
            exposed = exposed.endsWith("_total") ? exposed : exposed + "_total";
            if (exact.contains(exposed)) {
                throw new IllegalArgumentException("counter " + name + ": " + exposed
                        + " is already registered as a gauge or histogram (expected: a name not in use)");
            }
            counterNames.add(exposed);
            Counter.Builder b = Counter.builder(name).description(help);
            tags.forEach(b::tag);
            return b.register(registry);
        });
    }

    /**
     * A gauge created on first use, holding a settable value. The name may use dots or
     * underscores; it is exposed with underscores and otherwise exactly as given (a trailing
     * {@code _total} is kept, as upstream has such gauges).
     */
    public AtomicLong gauge(String name, String help, Map<String, String> tags) {
        TreeMap<String, String> sorted = new TreeMap<>(tags);
        return gauges.computeIfAbsent(name + sorted, k -> {
            String exposed = prometheusName(name);
            AtomicLong value = new AtomicLong();
            gaugeFamily(exposed, help, new ArrayList<>(sorted.keySet()))
                    .bind(new ArrayList<>(sorted.values()), value::get);
            return value;
        });
    }

    /**
     * Observes {@code value} in a classic histogram created on first use with {@code buckets}
     * (finite, ascending upper bounds; +Inf is implied). The name may use dots or underscores and is
     * exposed with underscores, otherwise exactly as given. Every use of one name must bring the
     * same label names and buckets.
     */
    public void observe(String name, String help, Map<String, String> tags, double[] buckets, double value) {
        TreeMap<String, String> sorted = new TreeMap<>(tags);
        histogramFamily(prometheusName(name), help, new ArrayList<>(sorted.keySet()), buckets)
                .observe(new ArrayList<>(sorted.values()), value);
    }

    /** Like client_golang's ExponentialBuckets: start, start*factor, … ({@code count} bounds). */
    public static double[] exponentialBuckets(double start, double factor, int count) {
        if (!(start > 0) || !(factor > 1) || count < 1) {
            throw new IllegalArgumentException("exponential buckets: start " + start + ", factor " + factor + ", count "
                    + count + " (expected: start > 0, factor > 1, count >= 1)");
        }
        return exponential(start, factor, count);
    }

    private GaugeFamily gaugeFamily(String name, String help, List<String> labelNames) {
        refuseCounterName(name);
        return exact.gauge(name, help, labelNames);
    }

    private HistogramFamily histogramFamily(String name, String help, List<String> labelNames, double[] bounds) {
        refuseCounterName(name);
        return exact.histogram(name, help, labelNames, bounds);
    }

    // Two families of one name would make the whole exposition invalid.
    private void refuseCounterName(String name) {
        if (counterNames.contains(name)) {
            throw new IllegalArgumentException("gauge or histogram " + name
                    + " is already registered as a counter (expected: a name not in use)");
        }
    }

    private Counter serviceChanges() {
        return counter("kubeproxy.sync.proxy.rules.service.changes", alpha("Cumulative proxy rules Service changes"),
                Map.of());
    }

    private Counter endpointChanges() {
        return counter("kubeproxy.sync.proxy.rules.endpoint.changes", alpha("Cumulative proxy rules Endpoint changes"),
                Map.of());
    }

    private HistogramFamily syncHistogram(String name, String help) {
        return histogramFamily(name, alpha(help), List.of(IP_FAMILY), SYNC_BUCKETS);
    }

    /** Upstream's help texts carry the stability level, as Kubernetes component-base writes it. */
    private static String alpha(String help) {
        return "[ALPHA] " + help;
    }

    private static String prometheusName(String name) {
        return name.replace('.', '_');
    }

    private static double seconds(Duration d) {
        return d.getSeconds() + d.getNano() / 1e9;
    }

    private static double epochSeconds(Instant when) {
        return when.getEpochSecond() + when.getNano() / 1e9;
    }

    /** Like client_golang's ExponentialBuckets: start, start*factor, … (count values). */
    static double[] exponential(double start, double factor, int count) {
        double[] b = new double[count];
        double v = start;
        for (int i = 0; i < count; i++) {
            b[i] = v;
            v *= factor;
        }
        return b;
    }

    private static double[] networkProgrammingBuckets() {
        List<Double> b = new ArrayList<>();
        b.add(0.0);
        b.add(0.25);
        b.add(0.5);
        for (int s = 1; s <= 59; s++) {
            b.add((double) s);
        }
        for (int s = 60; s <= 115; s += 5) {
            b.add((double) s);
        }
        for (int s = 120; s <= 300; s += 30) {
            b.add((double) s);
        }
        return b.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
