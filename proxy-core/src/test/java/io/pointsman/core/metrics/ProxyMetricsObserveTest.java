package io.pointsman.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The generic histogram door used by mode-independent steps (e.g. the conntrack reconciler). */
class ProxyMetricsObserveTest {

    @Test
    void observationsFillClassicBucketsWithTheGivenLabels() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        double[] buckets = ProxyMetrics.exponentialBuckets(0.001, 2, 3);
        assertThat(buckets).containsExactly(0.001, 0.002, 0.004);
        m.observe("kubeproxy_test_duration_seconds", "help", Map.of("ip_family", "IPv4"), buckets, 0.0015);
        m.observe("kubeproxy_test_duration_seconds", "help", Map.of("ip_family", "IPv4"), buckets, 1.0);
        String text = m.scrape();
        assertThat(text).contains("# TYPE kubeproxy_test_duration_seconds histogram")
                .contains("kubeproxy_test_duration_seconds_bucket{ip_family=\"IPv4\",le=\"0.001\"} 0")
                .contains("kubeproxy_test_duration_seconds_bucket{ip_family=\"IPv4\",le=\"0.002\"} 1")
                .contains("kubeproxy_test_duration_seconds_bucket{ip_family=\"IPv4\",le=\"+Inf\"} 2")
                .contains("kubeproxy_test_duration_seconds_count{ip_family=\"IPv4\"} 2");
    }

    @Test
    void aNameKeepsItsBucketsAndCannotBeACounterToo() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        m.observe("kubeproxy.test.seconds", "help", Map.of(), new double[] {1, 2}, 1);
        assertThatThrownBy(() -> m.observe("kubeproxy_test_seconds", "help", Map.of(), new double[] {1, 3}, 1))
                .hasMessageContaining("already registered as a histogram");
        m.counter("kubeproxy.other", "help", Map.of()).increment();
        assertThatThrownBy(() -> m.observe("kubeproxy_other_total", "help", Map.of(), new double[] {1}, 1))
                .hasMessageContaining("already registered as a counter");
        assertThatThrownBy(() -> ProxyMetrics.exponentialBuckets(0, 2, 3)).hasMessageContaining("expected: start > 0");
    }
}
