package io.pointsman.core.sync;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the sync function on one thread, coalescing requests, at least {@code minInterval} apart,
 * retrying a failed run within {@code retryInterval}, and at least every {@code maxInterval}
 * (see {@link RunSchedule}). The function answers whether it succeeded; an exception counts as a
 * failure and never kills the loop.
 */
public final class SyncRunner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SyncRunner.class);

    private final BooleanSupplier sync;
    private final RunSchedule schedule;
    private final Thread thread;
    private volatile boolean closed;

    public SyncRunner(String name, BooleanSupplier sync, Duration minInterval, Duration retryInterval,
                      Duration maxInterval) {
        this.sync = sync;
        this.schedule = new RunSchedule(minInterval.toNanos(), retryInterval.toNanos(), maxInterval.toNanos());
        this.thread = new Thread(this::loop, name);
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    /** Asks for a sync; returns at once. Requests made before the next run coalesce into it. */
    public void request() {
        synchronized (schedule) {
            schedule.request();
            schedule.notifyAll();
        }
    }

    private void loop() {
        while (!closed) {
            synchronized (schedule) {
                long now = System.nanoTime();
                if (!schedule.due(now)) {
                    long next = schedule.nextRun();
                    long waitNanos = next == RunSchedule.NEVER ? Long.MAX_VALUE : next - now;
                    try {
                        if (waitNanos == Long.MAX_VALUE) {
                            schedule.wait();
                        } else {
                            long ms = Math.max(1, waitNanos / 1_000_000);
                            schedule.wait(ms);
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    continue;
                }
                schedule.started(now);
            }
            boolean ok;
            try {
                ok = sync.getAsBoolean();
            } catch (RuntimeException | Error e) {
                log.error("sync threw {}; will retry", e.toString(), e);
                ok = false;
            }
            synchronized (schedule) {
                schedule.finished(System.nanoTime(), ok);
            }
        }
    }

    /** Stops the loop after the run in progress, if any; waits for it up to 30 s. */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
