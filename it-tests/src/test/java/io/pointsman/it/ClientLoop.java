package io.pointsman.it;

import io.pointsman.core.testing.Netns;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A client that keeps opening TCP connections to a list of targets (round robin), one after
 * another, on its own thread, until stopped or until its count or time bound is reached. Every
 * connection's answer is kept with the time it started, so a test can say how many were
 * attempted, how many failed and when.
 */
final class ClientLoop implements AutoCloseable {
    /** One connection: when it started (ms since the loop started), where to, and what came back. */
    record Attempt(long startedMs, String target, Probe.Answer answer) {
        @Override
        public String toString() {
            return "+" + startedMs + " ms " + target + ": " + answer;
        }
    }

    /** What the loop saw. */
    record Outcome(List<Attempt> attempts, Duration ran) {
        List<Attempt> failures() {
            return attempts.stream().filter(a -> !a.answer().answered()).toList();
        }

        Map<String, Long> tally() {
            return Probe.tally(attempts.stream().map(Attempt::answer).toList());
        }

        @Override
        public String toString() {
            return attempts.size() + " connections in " + ran.toMillis() + " ms, " + failures().size() + " failed"
                    + (failures().isEmpty() ? "" : ": " + failures().subList(0, Math.min(10, failures().size())))
                    + "; answers " + tally();
        }
    }

    private final Netns from;
    private final List<String> targets;
    private final int maxAttempts;
    private final Duration maxTime;
    private final Duration connectTimeout;
    private Duration pause = Duration.ZERO;
    private final List<Attempt> attempts = Collections.synchronizedList(new ArrayList<>());
    private final Thread thread;
    private volatile boolean stop;
    private long startNanos;
    private long endNanos;

    /**
     * @param targets "ip:port" each
     * @param maxAttempts the loop ends after this many connections at most
     * @param maxTime ... or after this long at most
     */
    ClientLoop(Netns from, List<String> targets, int maxAttempts, Duration maxTime, Duration connectTimeout) {
        if (targets.isEmpty() || maxAttempts < 1) {
            throw new IllegalArgumentException("targets: " + targets + ", maxAttempts: " + maxAttempts
                    + " (expected: at least one target and one attempt)");
        }
        this.from = from;
        this.targets = List.copyOf(targets);
        this.maxAttempts = maxAttempts;
        this.maxTime = maxTime;
        this.connectTimeout = connectTimeout;
        this.thread = new Thread(this::run, "client-loop");
        this.thread.setDaemon(true);
    }

    /** Waits this long after each connection (spares the CPU of a small test machine). */
    ClientLoop pause(Duration between) {
        this.pause = between;
        return this;
    }

    ClientLoop start() {
        startNanos = System.nanoTime();
        thread.start();
        return this;
    }

    private void run() {
        long deadline = startNanos + maxTime.toNanos();
        for (int i = 0; i < maxAttempts && !stop && System.nanoTime() < deadline; i++) {
            String target = targets.get(i % targets.size());
            int colon = target.lastIndexOf(':');
            long at = System.nanoTime();
            Probe.Answer a = Probe.tcp(from, target.substring(0, colon), Integer.parseInt(target.substring(colon + 1)),
                    connectTimeout);
            attempts.add(new Attempt(TimeUnit.NANOSECONDS.toMillis(at - startNanos), target, a));
            if (!pause.isZero()) {
                try {
                    Thread.sleep(pause.toMillis());
                } catch (InterruptedException e) {
                    break;
                }
            }
        }
        endNanos = System.nanoTime();
    }

    /** Connections made so far. */
    int attemptsSoFar() {
        return attempts.size();
    }

    /** Milliseconds since the loop started, on the clock of {@link Attempt#startedMs()}. */
    long nowMs() {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    boolean running() {
        return thread.isAlive();
    }

    /** Stops after the connection in progress and answers everything seen. */
    Outcome stop() throws InterruptedException {
        stop = true;
        thread.join(connectTimeout.plusSeconds(10).toMillis());
        if (thread.isAlive()) {
            throw new IllegalStateException("client loop still running " + connectTimeout.plusSeconds(10) + " after stop");
        }
        synchronized (attempts) {
            return new Outcome(List.copyOf(attempts), Duration.ofNanos(endNanos - startNanos));
        }
    }

    @Override
    public void close() {
        stop = true;
    }
}
