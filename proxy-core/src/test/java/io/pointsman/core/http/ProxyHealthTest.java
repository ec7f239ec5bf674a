package io.pointsman.core.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.pointsman.core.model.IpFamily;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class ProxyHealthTest {
    private static final Instant T0 = Instant.parse("2026-09-30T09:40:02.118Z");
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final MutableClock clock = new MutableClock(T0);
    private final AtomicBoolean eligible = new AtomicBoolean(true);
    private final ProxyHealth health = new ProxyHealth(TIMEOUT, clock, eligible::get);

    @Test
    void healthyBeforeAnySync() {
        assertThat(health.healthy()).isTrue();
        ProxyHealth.Report livez = health.livez();
        assertThat(livez.code()).isEqualTo(200);
        assertThat(livez.json()).isEqualTo(
                "{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\",\"currentTime\":\"2026-09-30T09:40:02.118Z\","
                        + "\"healthy\":true}");
    }

    @Test
    void pendingPastTheTimeoutIsUnhealthyUntilTheNextSync() {
        health.updated(IpFamily.IPv4);
        clock.advance(Duration.ofSeconds(5));
        health.queuedUpdate(IpFamily.IPv4);
        clock.advance(Duration.ofSeconds(30));
        health.queuedUpdate(IpFamily.IPv4); // not the oldest: must not restart the wait
        clock.advance(Duration.ofSeconds(29).plusMillis(999));
        assertThat(health.healthy()).as("59.999 s pending").isTrue();

        clock.advance(Duration.ofMillis(1));
        assertThat(health.healthy()).as("60 s pending").isFalse();
        ProxyHealth.Report livez = health.livez();
        assertThat(livez.code()).isEqualTo(503);
        // unhealthy: lastUpdated is the real last sync, not the current time
        assertThat(livez.json()).isEqualTo("{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\","
                + "\"currentTime\":\"2026-09-30T09:41:07.118Z\",\"healthy\":false,"
                + "\"status\":{\"IPv4\":{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\",\"healthy\":false}}}");

        clock.advance(Duration.ofSeconds(1));
        health.updated(IpFamily.IPv4);
        assertThat(health.healthy()).isTrue();
        assertThat(health.livez().code()).isEqualTo(200);
        assertThat(health.livez().json()).isEqualTo("{\"lastUpdated\":\"2026-09-30T09:41:08.118Z\","
                + "\"currentTime\":\"2026-09-30T09:41:08.118Z\",\"healthy\":true,"
                + "\"status\":{\"IPv4\":{\"lastUpdated\":\"2026-09-30T09:41:08.118Z\",\"healthy\":true}}}");
    }

    @Test
    void eachFamilyIsJudgedOnItsOwn() {
        health.updated(IpFamily.IPv4);
        health.updated(IpFamily.IPv6);
        health.queuedUpdate(IpFamily.IPv6);
        clock.advance(Duration.ofSeconds(50));
        health.queuedUpdate(IpFamily.IPv4);
        clock.advance(Duration.ofSeconds(20));

        ProxyHealth.Status s = health.status();
        assertThat(s.healthy()).isFalse();
        assertThat(s.families().get(IpFamily.IPv4).healthy()).as("IPv4 pending 20 s").isTrue();
        assertThat(s.families().get(IpFamily.IPv6).healthy()).as("IPv6 pending 70 s").isFalse();
        assertThat(health.livez().json()).contains(
                "\"status\":{\"IPv4\":{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\",\"healthy\":true},"
                        + "\"IPv6\":{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\",\"healthy\":false}}");

        health.updated(IpFamily.IPv6);
        assertThat(health.healthy()).isTrue();
    }

    @Test
    void aFamilyThatNeverSyncedCountsAsStartingUp() {
        // upstream judges only proxiers that have synced once
        health.queuedUpdate(IpFamily.IPv6);
        clock.advance(Duration.ofMinutes(10));
        assertThat(health.healthy()).isTrue();
        assertThat(health.status().families()).isEmpty();
        assertThat(health.status().lastUpdated()).isEqualTo(ProxyHealth.ZERO_TIME);
    }

    @Test
    void healthzAlsoNeedsAnEligibleNodeLivezDoesNot() {
        health.updated(IpFamily.IPv4);
        clock.advance(Duration.ofSeconds(3));
        ProxyHealth.Report ok = health.healthz();
        assertThat(ok.code()).isEqualTo(200);
        assertThat(ok.json()).isEqualTo("{\"lastUpdated\":\"2026-09-30T09:40:05.118Z\","
                + "\"currentTime\":\"2026-09-30T09:40:05.118Z\",\"nodeEligible\":true,\"healthy\":true,"
                + "\"status\":{\"IPv4\":{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\",\"healthy\":true}}}");

        eligible.set(false);
        ProxyHealth.Report notEligible = health.healthz();
        assertThat(notEligible.code()).isEqualTo(503);
        // the proxy itself is healthy; the 503 comes from the node
        assertThat(notEligible.json()).isEqualTo("{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\","
                + "\"currentTime\":\"2026-09-30T09:40:05.118Z\",\"nodeEligible\":false,\"healthy\":true,"
                + "\"status\":{\"IPv4\":{\"lastUpdated\":\"2026-09-30T09:40:02.118Z\",\"healthy\":true}}}");
        assertThat(health.livez().code()).isEqualTo(200);
        assertThat(health.livez().json()).doesNotContain("nodeEligible");
    }

    @Test
    void aFailingNodeSupplierMeansNotEligible() {
        ProxyHealth h = new ProxyHealth(TIMEOUT, clock, () -> {
            throw new IllegalStateException("node informer not started");
        });
        assertThat(h.healthz().code()).isEqualTo(503);
        assertThat(h.livez().code()).isEqualTo(200);
    }

    @Test
    void timesAreWrittenAsGoEncodesThem() {
        assertThat(ProxyHealth.goTime(ProxyHealth.ZERO_TIME)).isEqualTo("0001-01-01T00:00:00Z");
        assertThat(ProxyHealth.goTime(Instant.parse("2026-09-30T09:40:02Z"))).isEqualTo("2026-09-30T09:40:02Z");
        assertThat(ProxyHealth.goTime(Instant.parse("2026-09-30T09:40:02.118Z")))
                .isEqualTo("2026-09-30T09:40:02.118Z");
        assertThat(ProxyHealth.goTime(Instant.parse("2026-09-30T09:40:02.000000100Z")))
                .isEqualTo("2026-09-30T09:40:02.0000001Z");
        assertThat(ProxyHealth.goTime(Instant.parse("2026-09-30T09:40:02.123456789Z")))
                .isEqualTo("2026-09-30T09:40:02.123456789Z");
    }

    @Test
    void nodeEligibility() {
        assertThat(ProxyHealth.nodeEligible(null)).isFalse();
        assertThat(ProxyHealth.nodeEligible(node().build())).isTrue();
        assertThat(ProxyHealth.nodeEligible(node().editMetadata().withDeletionTimestamp("2026-09-30T09:40:02Z")
                .endMetadata().build())).isFalse();
        assertThat(ProxyHealth.nodeEligible(node().editOrNewSpec().addNewTaint().withKey("ToBeDeletedByClusterAutoscaler")
                .withValue("1727689202").withEffect("NoSchedule").endTaint().endSpec().build())).isFalse();
        assertThat(ProxyHealth.nodeEligible(node().editOrNewSpec().addNewTaint().withKey("node.kubernetes.io/unschedulable")
                .withEffect("NoSchedule").endTaint().endSpec().build())).isTrue();
    }

    @Test
    void badTimeoutIsRefused() {
        assertThatThrownBy(() -> new ProxyHealth(Duration.ZERO, clock, () -> true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("healthTimeout: PT0S (expected: > 0)");
        assertThat(ProxyHealth.forSyncPeriod(Duration.ofSeconds(30), () -> true).healthTimeout())
                .isEqualTo(Duration.ofSeconds(60));
    }

    private static NodeBuilder node() {
        return new NodeBuilder().withNewMetadata().withName("node-a").endMetadata();
    }
}
