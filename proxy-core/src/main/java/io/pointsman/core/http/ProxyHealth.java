package io.pointsman.core.http;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Taint;
import io.pointsman.core.model.IpFamily;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's own health, as upstream's proxy health server judges it: per IP family, a sync
 * that was queued and not done within {@code healthTimeout} (2 x syncPeriod) makes the proxy
 * unhealthy. A family counts once it has synced successfully (upstream treats a proxier that
 * never synced as starting up, hence healthy). {@code /healthz} also requires the node to be
 * eligible (exists, not being deleted, not tainted for scale-down); {@code /livez} does not.
 * Thread-safe.
 */
public final class ProxyHealth {
    private static final Logger log = LoggerFactory.getLogger(ProxyHealth.class);

    /** The taint Cluster Autoscaler puts on a node it is about to delete. */
    public static final String TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler";

    /** Go's zero time.Time: what upstream reports as lastUpdated before any sync. */
    public static final Instant ZERO_TIME = Instant.parse("0001-01-01T00:00:00Z");

    private static final DateTimeFormatter SECONDS =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);

    private final Duration healthTimeout;
    private final Clock clock;
    private final BooleanSupplier nodeEligible;
    private final Map<IpFamily, Instant> lastUpdated = new EnumMap<>(IpFamily.class);
    private final Map<IpFamily, Instant> oldestPendingQueued = new EnumMap<>(IpFamily.class);

    /**
     * @param healthTimeout how long a queued update may stay pending (upstream: 2 x syncPeriod)
     * @param nodeEligible whether this node may receive traffic, see {@link #nodeEligible(Node)}
     */
    public ProxyHealth(Duration healthTimeout, Clock clock, BooleanSupplier nodeEligible) {
        requireNonNull(healthTimeout, "healthTimeout");
        if (healthTimeout.isNegative() || healthTimeout.isZero()) {
            throw new IllegalArgumentException("healthTimeout: " + healthTimeout + " (expected: > 0)");
        }
        this.healthTimeout = healthTimeout;
        this.clock = requireNonNull(clock, "clock");
        this.nodeEligible = requireNonNull(nodeEligible, "nodeEligible");
    }

    /** Upstream's wiring: timeout 2 x syncPeriod, the system clock. */
    public static ProxyHealth forSyncPeriod(Duration syncPeriod, BooleanSupplier nodeEligible) {
        return new ProxyHealth(syncPeriod.multipliedBy(2), Clock.systemUTC(), nodeEligible);
    }

    public Duration healthTimeout() {
        return healthTimeout;
    }

    /** Changes for {@code family} are waiting for a sync; the oldest waiting one counts. */
    public synchronized void queuedUpdate(IpFamily family) {
        oldestPendingQueued.putIfAbsent(family, clock.instant());
    }

    /** A sync of {@code family} succeeded: nothing is pending any more. */
    public synchronized void updated(IpFamily family) {
        oldestPendingQueued.remove(family);
        lastUpdated.put(family, clock.instant());
    }

    /** The health of one family. */
    public record FamilyStatus(Instant lastUpdated, boolean healthy) {
    }

    /**
     * A consistent view of the proxy's health.
     *
     * @param lastUpdated the latest successful sync of any family, {@link #ZERO_TIME} if none
     * @param families the families that synced at least once
     */
    public record Status(Instant currentTime, Instant lastUpdated, boolean healthy,
                         Map<IpFamily, FamilyStatus> families) {
        public Status {
            EnumMap<IpFamily, FamilyStatus> copy = new EnumMap<>(IpFamily.class);
            copy.putAll(families); // EnumMap keeps IPv4 before IPv6, the order Go's encoder sorts keys in
            families = Collections.unmodifiableMap(copy);
        }
    }

    public synchronized Status status() {
        Instant now = clock.instant();
        Instant latest = ZERO_TIME;
        boolean healthy = true;
        Map<IpFamily, FamilyStatus> families = new EnumMap<>(IpFamily.class);
        for (Map.Entry<IpFamily, Instant> e : lastUpdated.entrySet()) {
            if (e.getValue().isAfter(latest)) {
                latest = e.getValue();
            }
            Instant pendingSince = oldestPendingQueued.get(e.getKey());
            boolean familyHealthy = pendingSince == null
                    || Duration.between(pendingSince, now).compareTo(healthTimeout) < 0;
            healthy &= familyHealthy;
            families.put(e.getKey(), new FamilyStatus(e.getValue(), familyHealthy));
        }
        return new Status(now, latest, healthy, families);
    }

    public boolean healthy() {
        return status().healthy();
    }

    /** The node supplier's answer; a failing supplier means not eligible. */
    public boolean nodeEligible() {
        try {
            return nodeEligible.getAsBoolean();
        } catch (RuntimeException e) {
            log.warn("cannot tell whether the node is eligible, reporting it is not: {}", e.toString());
            return false;
        }
    }

    /** An HTTP status code and the JSON body upstream sends with it. */
    public record Report(int code, String json) {
    }

    /** {@code /livez}: 200 when healthy, else 503. */
    public Report livez() {
        Status s = status();
        return report(s, s.healthy(), null);
    }

    /** {@code /healthz}: 200 when healthy and the node is eligible, else 503. */
    public Report healthz() {
        Status s = status();
        boolean eligible = nodeEligible();
        return report(s, s.healthy() && eligible, eligible);
    }

    /**
     * Upstream's body: Go's encoding/json of its ProxyHealth struct (fields in declaration order,
     * map keys sorted, RFC 3339 times). When the answer is 200, lastUpdated is the current time,
     * as older releases reported it.
     */
    private static String body(Status s, boolean ok, Boolean eligible) {
        StringBuilder b = new StringBuilder(256);
        b.append("{\"lastUpdated\":\"").append(goTime(ok ? s.currentTime() : s.lastUpdated()))
                .append("\",\"currentTime\":\"").append(goTime(s.currentTime())).append('"');
        if (eligible != null) {
            b.append(",\"nodeEligible\":").append(eligible);
        }
        b.append(",\"healthy\":").append(s.healthy());
        if (!s.families().isEmpty()) {
            b.append(",\"status\":{");
            String sep = "";
            for (Map.Entry<IpFamily, FamilyStatus> e : s.families().entrySet()) {
                b.append(sep).append('"').append(e.getKey().name()).append("\":{\"lastUpdated\":\"")
                        .append(goTime(e.getValue().lastUpdated())).append("\",\"healthy\":")
                        .append(e.getValue().healthy()).append('}');
                sep = ",";
            }
            b.append('}');
        }
        return b.append('}').toString();
    }

    private static Report report(Status s, boolean ok, Boolean eligible) {
        return new Report(ok ? 200 : 503, body(s, ok, eligible));
    }

    /** Go's time.Time JSON form in UTC: RFC 3339 with the fraction's trailing zeros dropped. */
    static String goTime(Instant t) {
        StringBuilder b = new StringBuilder(SECONDS.format(t));
        int nanos = t.getNano();
        if (nanos != 0) {
            String digits = String.format("%09d", nanos);
            int end = digits.length();
            while (digits.charAt(end - 1) == '0') {
                end--;
            }
            b.append('.').append(digits, 0, end);
        }
        return b.append('Z').toString();
    }

    /**
     * Upstream's node eligibility: the Node exists, is not being deleted, and has no
     * {@value #TO_BE_DELETED_TAINT} taint.
     */
    public static boolean nodeEligible(Node node) {
        if (node == null) {
            return false;
        }
        if (node.getMetadata() != null && node.getMetadata().getDeletionTimestamp() != null
                && !node.getMetadata().getDeletionTimestamp().isEmpty()) {
            return false;
        }
        List<Taint> taints = node.getSpec() == null ? null : node.getSpec().getTaints();
        return taints == null || taints.stream().noneMatch(t -> TO_BE_DELETED_TAINT.equals(t.getKey()));
    }
}
