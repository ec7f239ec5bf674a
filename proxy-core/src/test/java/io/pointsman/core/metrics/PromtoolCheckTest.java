package io.pointsman.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Tools;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The exposition checked by the real {@code promtool check metrics} (Prometheus' parser and
 * linter for the classic text format).
 */
class PromtoolCheckTest {
    /**
     * Upstream's own names that promtool's linter flags ("non-counter metrics should not have
     * _total suffix"): Pointsman keeps them for compatibility with existing dashboards.
     */
    private static final Set<String> UPSTREAM_TOTAL_GAUGES = Set.of(
            "kubeproxy_sync_proxy_rules_iptables_total", "kubeproxy_sync_proxy_rules_no_local_endpoints_total");

    @BeforeEach
    void promtool() {
        Tools.require("promtool");
    }

    @Test
    void kubeproxySeriesParseAndLintCleanExceptUpstreamsTotalGauges() throws Exception {
        String text = kubeproxyOnly(busyMetrics().scrape());
        assertThat(text).contains("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram\n");

        Result all = promtool(text);
        assertThat(all.output()).doesNotContain("error");
        // exit 3 = lint problems only (a parse error is 1); the problems are exactly upstream's names
        assertThat(all.exit()).as(all.output()).isEqualTo(3);
        assertThat(all.output().lines().toList()).containsExactlyInAnyOrderElementsOf(UPSTREAM_TOTAL_GAUGES.stream()
                .map(n -> n + " non-counter metrics should not have \"_total\" suffix").toList());

        Result rest = promtool(without(text, UPSTREAM_TOTAL_GAUGES));
        assertThat(rest.output()).isEmpty();
        assertThat(rest.exit()).isZero();
    }

    @Test
    void promtoolDoesCatchABrokenExposition() throws Exception {
        // guards the test above against a promtool that accepts anything
        Result r = promtool("# TYPE kubeproxy_x counter\nkubeproxy_x{ip_family=\"IPv4\" 1\n");
        assertThat(r.exit()).isNotZero();
        assertThat(r.output()).contains("error");
    }

    static ProxyMetrics busyMetrics() {
        ProxyMetrics m = new ProxyMetrics("iptables");
        for (IpFamily f : IpFamily.values()) {
            m.syncDuration(f, Duration.ofMillis(5), true);
            m.syncDuration(f, Duration.ofMillis(40), false);
            m.syncDuration(f, Duration.ofSeconds(30), false);
            m.networkProgrammingDuration(f, Duration.ofMillis(1500));
            m.lastSync(f, Instant.now());
            m.lastQueued(f, Instant.now());
            m.iptablesRules("nat", f, 100, 10);
            m.iptablesRules("filter", f, 12, 12);
            m.restoreFailure(f, true);
            m.noLocalEndpoints("internal", f, 1);
            m.noLocalEndpoints("external", f, 0);
        }
        m.serviceChange();
        m.endpointChange();
        m.pendingChanges(() -> 2, () -> 3);
        m.healthzRequest(200);
        m.livezRequest(503);
        return m;
    }

    /** The HELP/TYPE and sample lines of kubeproxy_ families. */
    static String kubeproxyOnly(String text) {
        return text.lines().filter(l -> {
            String rest = l.startsWith("# HELP ") || l.startsWith("# TYPE ") ? l.substring(7) : l;
            return rest.startsWith("kubeproxy_");
        }).collect(Collectors.joining("\n", "", "\n"));
    }

    private static String without(String text, Set<String> families) {
        return text.lines().filter(l -> families.stream().noneMatch(l::contains))
                .collect(Collectors.joining("\n", "", "\n"));
    }

    record Result(int exit, String output) {
    }

    static Result promtool(String exposition) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(Kernel.which("promtool").toString(), "check", "metrics")).redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(exposition.getBytes(StandardCharsets.UTF_8));
        }
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("promtool check metrics did not finish within 30 s");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
    }
}
