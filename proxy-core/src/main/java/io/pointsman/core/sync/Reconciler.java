package io.pointsman.core.sync;

import io.pointsman.core.http.ProxyHealth;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.source.ChangeTracker;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that decides what a sync does: drains the change tracker, chooses full or
 * partial, calls the backend, and records the outcome (metrics, health, one log line).
 * A failed apply makes the next sync full, because the drained changes are gone.
 */
public final class Reconciler {
    private static final Logger log = LoggerFactory.getLogger(Reconciler.class);
    /** Upstream's FullSyncPeriod: a full sync at least hourly even when nothing changes. */
    public static final Duration FULL_SYNC_PERIOD = Duration.ofHours(1);

    private final ChangeTracker tracker;
    private final ProxyBackend backend;
    private final ProxyMetrics metrics;
    private final ProxyHealth health;
    private final Set<IpFamily> families;
    private final Clock clock;
    private final List<NamedAfterSync> afterSync = new CopyOnWriteArrayList<>();
    private final Duration driftCheckPeriod;
    private boolean needFullSync = true;
    private Instant lastFullSync;
    private Instant lastDriftCheck;
    private boolean driftPending;
    private boolean waitingLogged;
    private long syncs;

    public Reconciler(ChangeTracker tracker, ProxyBackend backend, ProxyMetrics metrics, ProxyHealth health,
                      Set<IpFamily> families, Clock clock) {
        this(tracker, backend, metrics, health, families, clock, Duration.ofSeconds(30));
    }

    /**
     * @param driftCheckPeriod how often the backend is asked whether the kernel still holds what it
     *     wrote (the sync period, as upstream's canary monitor polls)
     */
    public Reconciler(ChangeTracker tracker, ProxyBackend backend, ProxyMetrics metrics, ProxyHealth health,
                      Set<IpFamily> families, Clock clock, Duration driftCheckPeriod) {
        this.driftCheckPeriod = driftCheckPeriod;
        this.tracker = tracker;
        this.backend = backend;
        this.metrics = metrics;
        this.health = health;
        this.families = Set.copyOf(families);
        this.clock = clock;
    }

    /** Called by sources (through the tracker's listener) when something changed. */
    public void queued() {
        Instant now = clock.instant();
        for (IpFamily f : families) {
            health.queuedUpdate(f);
            metrics.lastQueued(f, now);
        }
    }

    /**
     * Adds work to run after every successful sync, in the order added (also after a sync that
     * found nothing changed, so that such work can retry what failed before).
     *
     * @param name names the step in logs, e.g. "health-check node ports"
     */
    public void addAfterSync(String name, AfterSync hook) {
        afterSync.add(new NamedAfterSync(Objects.requireNonNull(name, "name"), Objects.requireNonNull(hook, "hook")));
    }

    private record NamedAfterSync(String name, AfterSync hook) {
    }

    /** Number of successful syncs so far. */
    public synchronized long syncs() {
        return syncs;
    }

    /** One sync; answers whether it succeeded (the runner retries failures). */
    public synchronized boolean syncOnce() {
        if (!tracker.initialized()) {
            if (!waitingLogged) {
                log.info("not syncing until Services, EndpointSlices and this node have been listed once");
                waitingLogged = true;
            }
            return true;
        }
        Instant start = clock.instant();
        long t0 = System.nanoTime();
        boolean full = needFullSync || lastFullSync == null
                || Duration.between(lastFullSync, start).compareTo(FULL_SYNC_PERIOD) >= 0;
        if (!full && syncs > 0) {
            checkDrift(start);
            full = needFullSync;
        }
        ChangeTracker.Drained drained = tracker.drain();
        ProxyState state = drained.state();
        ChangeSet changes = drained.changes();
        if (!full && changes.isEmpty() && !driftPending) {
            // Nothing changed: the kernel already holds this state.
            markHealthy();
            runAfterSync(state, ChangeSet.NONE, false);
            return true;
        }
        SyncResult result;
        try {
            result = backend.sync(state, changes, full);
        } catch (SyncException | RuntimeException e) {
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            for (IpFamily f : families) {
                metrics.syncDuration(f, took, full);
            }
            needFullSync = true;
            log.error("{} sync failed after {} ms, previous rules keep serving, next sync will be full: {}",
                    full ? "full" : "partial", took.toMillis(), e.getMessage(), e instanceof RuntimeException ? e : null);
            return false;
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        needFullSync = false;
        driftPending = false;
        if (full) {
            lastFullSync = start;
        }
        syncs++;
        Instant end = clock.instant();
        for (IpFamily f : families) {
            metrics.syncDuration(f, took, full);
            metrics.lastSync(f, end);
        }
        markHealthy();
        log.info("{} sync: {} service ports, {} endpoints, {} changed, {} written{} in {} ms",
                full ? "full" : "partial", state.services().size(), state.endpointCount(),
                full ? "all" : Integer.toString(changes.servicePorts().size()), result.servicePortsWritten(),
                counts(result.counts()), took.toMillis());
        runAfterSync(state, changes, full);
        return true;
    }

    // What follows a sync may fail on its own; the rules are in place, so it never fails the sync.
    private void runAfterSync(ProxyState state, ChangeSet changes, boolean full) {
        for (NamedAfterSync step : afterSync) {
            try {
                step.hook().afterSync(state, changes, full);
            } catch (RuntimeException e) {
                log.warn("after-sync step \"{}\" failed, the sync itself stands: {}", step.name(), e.toString(), e);
            }
        }
    }

    /**
     * Every drift-check period, asks the backend whether the kernel still holds what it wrote;
     * what drifted is rewritten by the sync that follows at once.
     */
    private void checkDrift(Instant now) {
        if (lastDriftCheck != null && Duration.between(lastDriftCheck, now).compareTo(driftCheckPeriod) < 0) {
            return;
        }
        lastDriftCheck = now;
        try {
            DriftReport report = backend.checkDrift();
            if (!report.isEmpty()) {
                driftPending = true;
                List<String> all = new java.util.ArrayList<>(report.missing());
                all.addAll(report.modified());
                log.warn("drift: the kernel no longer holds {} object(s) as written ({} missing, {} modified: {}{}); repairing now",
                        report.size(), report.missing().size(), report.modified().size(),
                        String.join(", ", all.subList(0, Math.min(5, all.size()))), all.size() > 5 ? ", ..." : "");
            }
        } catch (SyncException | RuntimeException e) {
            // Cannot read the kernel back: a full sync rewrites everything anyway.
            log.warn("drift check failed, next sync will be full: {}", e.getMessage());
            needFullSync = true;
            driftPending = true;
        }
    }

    private void markHealthy() {
        for (IpFamily f : families) {
            health.updated(f);
        }
    }

    private static String counts(Map<String, Long> counts) {
        if (counts.isEmpty()) {
            return "";
        }
        StringJoiner j = new StringJoiner(", ", " (", ")");
        counts.forEach((k, v) -> j.add(k + " " + v));
        return j.toString();
    }

    /** Families the daemon serves, from the configuration: IPv4 always, IPv6 when a cluster CIDR is IPv6. */
    public static Set<IpFamily> families(List<String> clusterCIDRs) {
        boolean v6 = clusterCIDRs.stream().anyMatch(c -> c.indexOf(':') >= 0);
        return v6 ? Set.of(IpFamily.IPv4, IpFamily.IPv6) : Set.of(IpFamily.IPv4);
    }
}
