package io.pointsman.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.model.IpFamily;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ProxyMetricsTest {
    private static final List<String> SYNC_LE = List.of("0.001", "0.002", "0.004", "0.008", "0.016", "0.032",
            "0.064", "0.128", "0.256", "0.512", "1.024", "2.048", "4.096", "8.192", "16.384", "+Inf");

    @Test
    void unlabelledMetricsExistAtZeroFromTheStart() {
        String text = new ProxyMetrics("iptables").scrape();
        assertThat(text)
                .contains("# TYPE kubeproxy_sync_proxy_rules_service_changes_total counter\n")
                .contains("kubeproxy_sync_proxy_rules_service_changes_total 0.0\n")
                .contains("kubeproxy_sync_proxy_rules_endpoint_changes_total 0.0\n")
                .contains("# TYPE kubeproxy_sync_proxy_rules_service_changes_pending gauge\n")
                .contains("kubeproxy_sync_proxy_rules_endpoint_changes_pending 0.0\n")
                // labelled families appear on first use, as upstream's vectors do
                .doesNotContain("kubeproxy_sync_proxy_rules_duration_seconds");
    }

    @Test
    void syncDurationIsUpstreamsHistogramWithoutMicrometersMax() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        m.syncDuration(IpFamily.IPv4, Duration.ofMillis(12), true);
        m.syncDuration(IpFamily.IPv4, Duration.ofMillis(3), false);
        m.syncDuration(IpFamily.IPv6, Duration.ofSeconds(20), true);
        String text = m.scrape();

        assertThat(text)
                .contains("# HELP kubeproxy_sync_proxy_rules_duration_seconds [ALPHA] SyncProxyRules latency in seconds\n")
                .contains("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram\n")
                .contains("# TYPE kubeproxy_sync_full_proxy_rules_duration_seconds histogram\n")
                .contains("# TYPE kubeproxy_sync_partial_proxy_rules_duration_seconds histogram\n")
                .doesNotContain("_max");
        assertThat(les(text, "kubeproxy_sync_proxy_rules_duration_seconds", "IPv4")).isEqualTo(SYNC_LE);
        assertThat(les(text, "kubeproxy_sync_full_proxy_rules_duration_seconds", "IPv6")).isEqualTo(SYNC_LE);

        // cumulative counts: 3 ms lands in le=0.004, 12 ms in le=0.016
        String v4 = "kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"";
        assertThat(text).contains(v4 + "0.002\"} 0\n", v4 + "0.004\"} 1\n", v4 + "0.008\"} 1\n",
                v4 + "0.016\"} 2\n", v4 + "+Inf\"} 2\n");
        assertThat(text).contains("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 2\n",
                "kubeproxy_sync_proxy_rules_duration_seconds_sum{ip_family=\"IPv4\"} 0.015\n");
        // 20 s is above the largest bucket: only +Inf counts it
        String v6 = "kubeproxy_sync_full_proxy_rules_duration_seconds_bucket{ip_family=\"IPv6\",le=\"";
        assertThat(text).contains(v6 + "16.384\"} 0\n", v6 + "+Inf\"} 1\n");
        // partial syncs are not counted as full ones
        assertThat(text).contains(
                "kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 1\n",
                "kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 1\n");
    }

    @Test
    void bucketsAreUpstreams() {
        assertThat(ProxyMetrics.SYNC_BUCKETS).hasSize(15).startsWith(0.001).endsWith(16.384);
        double[] np = ProxyMetrics.NETWORK_PROGRAMMING_BUCKETS;
        assertThat(np).hasSize(3 + 59 + 12 + 7).startsWith(0, 0.25, 0.5, 1, 2).endsWith(115, 120, 150, 180, 210,
                240, 270, 300);
        assertThat(Arrays.stream(np).anyMatch(b -> b == 59) && Arrays.stream(np).anyMatch(b -> b == 60)).isTrue();
    }

    @Test
    void networkProgrammingDurationHasAZeroBucket() {
        ProxyMetrics m = new ProxyMetrics("nftables");
        m.networkProgrammingDuration(IpFamily.IPv4, Duration.ofMillis(300));
        m.networkProgrammingDuration(IpFamily.IPv4, Duration.ZERO);
        String text = m.scrape();
        String p = "kubeproxy_network_programming_duration_seconds_bucket{ip_family=\"IPv4\",le=\"";
        assertThat(text).contains("# TYPE kubeproxy_network_programming_duration_seconds histogram\n",
                p + "0.0\"} 1\n", p + "0.25\"} 1\n", p + "0.5\"} 2\n", p + "300.0\"} 2\n", p + "+Inf\"} 2\n");
        assertThat(les(text, "kubeproxy_network_programming_duration_seconds", "IPv4")).hasSize(82);
    }

    @Test
    void gaugesEndingInTotalKeepTheirUpstreamNames() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        m.iptablesRules("nat", IpFamily.IPv4, 120, 7);
        m.iptablesRules("filter", IpFamily.IPv4, 9, 9);
        m.iptablesRules("nat", IpFamily.IPv4, 121, 3); // replaces, does not add
        m.noLocalEndpoints("internal", IpFamily.IPv6, 2);
        String text = m.scrape();
        assertThat(text)
                .contains("# TYPE kubeproxy_sync_proxy_rules_iptables_total gauge\n")
                .contains("kubeproxy_sync_proxy_rules_iptables_total{ip_family=\"IPv4\",table=\"nat\"} 121.0\n")
                .contains("kubeproxy_sync_proxy_rules_iptables_total{ip_family=\"IPv4\",table=\"filter\"} 9.0\n")
                .contains("# TYPE kubeproxy_sync_proxy_rules_iptables_last gauge\n")
                .contains("kubeproxy_sync_proxy_rules_iptables_last{ip_family=\"IPv4\",table=\"nat\"} 3.0\n")
                .contains("# TYPE kubeproxy_sync_proxy_rules_no_local_endpoints_total gauge\n")
                .contains("kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family=\"IPv6\",traffic_policy=\"internal\"} 2.0\n")
                // what the Prometheus client would have made of them
                .doesNotContain("kubeproxy_sync_proxy_rules_iptables{")
                .doesNotContain("kubeproxy_sync_proxy_rules_no_local_endpoints{");
    }

    @Test
    void countersAndTimestamps() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        m.serviceChange();
        m.serviceChange();
        m.endpointChange();
        m.restoreFailure(IpFamily.IPv4, false);
        m.restoreFailure(IpFamily.IPv4, true);
        m.nftablesSyncFailure(IpFamily.IPv6);
        m.nftablesCleanupFailure(IpFamily.IPv6);
        m.healthzRequest(200);
        m.healthzRequest(503);
        m.healthzRequest(200);
        m.livezRequest(200);
        m.lastSync(IpFamily.IPv4, Instant.ofEpochSecond(1_700_000_000, 500_000_000));
        m.lastQueued(IpFamily.IPv4, Instant.ofEpochSecond(1_700_000_001));
        String text = m.scrape();
        assertThat(text)
                .contains("kubeproxy_sync_proxy_rules_service_changes_total 2.0\n")
                .contains("kubeproxy_sync_proxy_rules_endpoint_changes_total 1.0\n")
                .contains("# TYPE kubeproxy_sync_proxy_rules_iptables_restore_failures_total counter\n")
                .contains("kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family=\"IPv4\"} 2.0\n")
                .contains("kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total{ip_family=\"IPv4\"} 1.0\n")
                .contains("kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv6\"} 1.0\n")
                .contains("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total{ip_family=\"IPv6\"} 1.0\n")
                .contains("# TYPE kubeproxy_proxy_healthz_total counter\n")
                .contains("kubeproxy_proxy_healthz_total{code=\"200\"} 2.0\n")
                .contains("kubeproxy_proxy_healthz_total{code=\"503\"} 1.0\n")
                .contains("kubeproxy_proxy_livez_total{code=\"200\"} 1.0\n")
                .contains("# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge\n")
                .contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=\"IPv4\"} 1.7000000005E9\n")
                .contains("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family=\"IPv4\"} 1.700000001E9\n");
    }

    @Test
    void pendingChangesAreReadAtScrapeTime() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        AtomicInteger services = new AtomicInteger(3);
        m.pendingChanges(services::get, () -> 4L);
        assertThat(m.scrape()).contains("kubeproxy_sync_proxy_rules_service_changes_pending 3.0\n",
                "kubeproxy_sync_proxy_rules_endpoint_changes_pending 4.0\n");
        services.set(0);
        assertThat(m.scrape()).contains("kubeproxy_sync_proxy_rules_service_changes_pending 0.0\n");
        m.pendingChanges(() -> {
            throw new IllegalStateException("tracker gone");
        }, () -> 1);
        // a broken supplier shows as NaN but does not break the scrape
        assertThat(m.scrape()).contains("kubeproxy_sync_proxy_rules_service_changes_pending NaN\n",
                "kubeproxy_sync_proxy_rules_endpoint_changes_pending 1.0\n");
    }

    @Test
    void genericGaugeAndCounter() {
        ProxyMetrics m = new ProxyMetrics("userspace");
        m.gauge("pointsman.listeners.total", "Open listeners", Map.of("protocol", "TCP", "ip_family", "IPv4"))
                .set(5);
        assertThat(m.gauge("pointsman.listeners.total", "Open listeners",
                Map.of("ip_family", "IPv4", "protocol", "TCP")).get()).isEqualTo(5); // same series
        m.counter("pointsman.accepted.connections", "Accepted", Map.of("protocol", "UDP")).increment(3);
        assertThat(m.scrape())
                .contains("# TYPE pointsman_listeners_total gauge\n")
                .contains("pointsman_listeners_total{ip_family=\"IPv4\",protocol=\"TCP\"} 5.0\n")
                .contains("pointsman_accepted_connections_total{protocol=\"UDP\"} 3.0\n");
    }

    @Test
    void conflictingDefinitionsAreRefusedWithTheReason() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        m.gauge("pointsman.listeners", "h", Map.of("protocol", "TCP"));
        assertThatThrownBy(() -> m.gauge("pointsman.listeners", "h", Map.of("port", "80")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("pointsman_listeners is already registered as a gauge with labels [protocol]")
                .hasMessageContaining("[port]");
        m.counter("pointsman.drops", "h", Map.of());
        assertThatThrownBy(() -> m.gauge("pointsman.drops.total", "h", Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("already registered as a counter");
        m.iptablesRules("nat", IpFamily.IPv4, 1, 1);
        assertThatThrownBy(() -> m.counter("kubeproxy.sync.proxy.rules.iptables", "h", Map.of("table", "nat",
                "ip_family", "IPv4")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("counter kubeproxy.sync.proxy.rules.iptables: kubeproxy_sync_proxy_rules_iptables_total");
        m.counter("kubeproxy.sync.proxy.rules.no.local.endpoints", "h", Map.of()).increment();
        assertThatThrownBy(() -> m.noLocalEndpoints("internal", IpFamily.IPv4, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kubeproxy_sync_proxy_rules_no_local_endpoints_total is already registered as a counter");
        assertThatThrownBy(() -> m.gauge("bad name", "h", Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("metric name: \"bad name\"");
        assertThatThrownBy(() -> m.gauge("pointsman.ok", "h", Map.of("le", "1")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("label name of pointsman_ok: \"le\"");
    }

    /** The le values of one histogram series, in exposition order. */
    static List<String> les(String text, String histogram, String family) {
        Matcher mt = Pattern.compile("^" + Pattern.quote(histogram) + "_bucket\\{ip_family=\"" + family
                + "\",le=\"([^\"]+)\"} \\d+$", Pattern.MULTILINE).matcher(text);
        return mt.results().map(r -> r.group(1)).toList();
    }
}
