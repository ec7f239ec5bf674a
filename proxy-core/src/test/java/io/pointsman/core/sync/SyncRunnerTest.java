package io.pointsman.core.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SyncRunnerTest {

    @Test
    void requestsDuringARunCoalesceIntoOneMoreRun() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch firstRunStarted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (SyncRunner runner = new SyncRunner("test-sync", () -> {
            if (runs.incrementAndGet() == 1) {
                firstRunStarted.countDown();
                try {
                    release.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return true;
        }, Duration.ZERO, Duration.ofSeconds(30), Duration.ofHours(1))) {
            runner.start();
            runner.request();
            assertThat(firstRunStarted.await(5, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 50; i++) {
                runner.request();
            }
            release.countDown();
            await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 2);
            Thread.sleep(200);
            assertThat(runs.get()).as("50 requests during the first run made one more run").isEqualTo(2);
        }
    }

    @Test
    void anExceptionCountsAsAFailureAndTheLoopGoesOn() {
        AtomicInteger runs = new AtomicInteger();
        try (SyncRunner runner = new SyncRunner("test-sync", () -> {
            if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("boom");
            }
            return true;
        }, Duration.ZERO, Duration.ofMillis(100), Duration.ofHours(1))) {
            runner.start();
            runner.request();
            await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() >= 2);
        }
    }
}
