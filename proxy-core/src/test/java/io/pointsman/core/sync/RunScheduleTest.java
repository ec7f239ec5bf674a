package io.pointsman.core.sync;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RunScheduleTest {
    private static final long S = 1_000_000_000L;
    private final RunSchedule schedule = new RunSchedule(1 * S, 30 * S, 3600 * S);

    @Test
    void nothingRunsBeforeTheFirstRequest() {
        assertThat(schedule.due(0)).isFalse();
        assertThat(schedule.due(10_000 * S)).isFalse();
        schedule.request();
        assertThat(schedule.due(5)).isTrue();
    }

    @Test
    void requestsCoalesceAndRespectTheMinimumInterval() {
        schedule.request();
        schedule.started(0);
        schedule.finished(S / 10, true);
        schedule.request();
        schedule.request();
        schedule.request();
        assertThat(schedule.due(S / 2)).as("min interval is start to start").isFalse();
        assertThat(schedule.due(1 * S)).isTrue();
        schedule.started(1 * S);
        assertThat(schedule.pending()).as("one run consumed all three requests").isFalse();
        schedule.finished(1 * S + 1, true);
        assertThat(schedule.due(2 * S)).isFalse();
    }

    @Test
    void aFailedRunIsRetriedWithinTheRetryInterval() {
        schedule.request();
        schedule.started(0);
        schedule.finished(2 * S, false);
        assertThat(schedule.due(31 * S)).isFalse();
        assertThat(schedule.due(32 * S)).isTrue();
        schedule.started(32 * S);
        schedule.finished(33 * S, true);
        assertThat(schedule.due(100 * S)).as("success clears the retry").isFalse();
    }

    @Test
    void aRequestAfterAFailureDoesNotWaitForTheRetry() {
        schedule.request();
        schedule.started(0);
        schedule.finished(0, false);
        schedule.request();
        assertThat(schedule.due(1 * S)).isTrue();
    }

    @Test
    void runsAtLeastEveryMaxInterval() {
        schedule.request();
        schedule.started(0);
        schedule.finished(1, true);
        assertThat(schedule.due(3599 * S)).isFalse();
        assertThat(schedule.due(3600 * S)).isTrue();
    }

    @Test
    void zeroMinimumIntervalRunsRequestsAtOnce() {
        RunSchedule eager = new RunSchedule(0, 30 * S, 3600 * S);
        eager.request();
        eager.started(0);
        eager.finished(1, true);
        eager.request();
        assertThat(eager.due(1)).isTrue();
    }
}
