package io.pointsman.core.sync;

/**
 * The timing rules of {@link SyncRunner}, with time as plain nanoseconds so that tests drive it
 * with a fake clock. Upstream's bounded-frequency runner semantics:
 * <ul>
 *   <li>requests coalesce: any number of requests before a run cause one run;</li>
 *   <li>runs start at least {@code minInterval} apart (start to start);</li>
 *   <li>after a failed run the next one starts no later than {@code retryInterval} after it;</li>
 *   <li>with no requests a run still happens every {@code maxInterval}.</li>
 * </ul>
 * Not thread-safe: the runner guards it.
 */
final class RunSchedule {
    static final long NEVER = Long.MAX_VALUE;

    private final long minInterval;
    private final long retryInterval;
    private final long maxInterval;
    private boolean ranOnce;
    private long lastStart;
    private boolean pending;
    private long retryAt = NEVER;

    RunSchedule(long minIntervalNanos, long retryIntervalNanos, long maxIntervalNanos) {
        if (minIntervalNanos < 0 || retryIntervalNanos <= 0 || maxIntervalNanos <= 0) {
            throw new IllegalArgumentException("intervals: min " + minIntervalNanos + ", retry " + retryIntervalNanos
                    + ", max " + maxIntervalNanos + " (expected: min >= 0, retry > 0, max > 0)");
        }
        this.minInterval = minIntervalNanos;
        this.retryInterval = retryIntervalNanos;
        this.maxInterval = maxIntervalNanos;
    }

    /** A sync was asked for. */
    void request() {
        pending = true;
    }

    boolean pending() {
        return pending;
    }

    /**
     * The earliest time the next run may start; {@link #NEVER} when nothing is due (only before
     * the first run, which happens on request).
     */
    long nextRun() {
        if (!ranOnce) {
            return pending ? Long.MIN_VALUE : NEVER;
        }
        long earliest = lastStart + minInterval;
        long next = lastStart + maxInterval;
        if (pending) {
            next = Math.min(next, earliest);
        }
        if (retryAt != NEVER) {
            next = Math.min(next, Math.max(retryAt, earliest));
        }
        return next;
    }

    /** Whether a run is due at {@code now}. */
    boolean due(long now) {
        long next = nextRun();
        return next == Long.MIN_VALUE || (next != NEVER && now - next >= 0);
    }

    /** A run starts at {@code now}; the pending request is consumed by it. */
    void started(long now) {
        ranOnce = true;
        lastStart = now;
        pending = false;
    }

    /** The run that started last ended at {@code now}, successfully or not. */
    void finished(long now, boolean success) {
        retryAt = success ? NEVER : now + retryInterval;
    }
}
