package io.pointsman.core.source;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The event recorder against fabric8's mock API server in CRUD mode: what lands in the API. */
@EnableKubernetesMockClient(crud = true)
class EventRecorderTest {
    private static final Duration FLUSH = Duration.ofSeconds(10);

    KubernetesMockServer server;
    KubernetesClient client;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T10:00:00.123456Z"));
    private EventRecorder recorder;

    @AfterEach
    void close() {
        if (recorder != null) {
            recorder.close();
        }
    }

    private List<Event> events(String namespace) {
        return client.events().v1().events().inNamespace(namespace).list().getItems().stream()
                .sorted(Comparator.comparing(e -> e.getMetadata().getName()))
                .toList();
    }

    @Test
    void startingIsANormalEventOnTheNodeNamingTheMode() {
        recorder = new EventRecorder(client, "node-a", clock);
        recorder.starting("iptables");
        assertThat(recorder.flush(FLUSH)).isTrue();

        List<Event> events = events("default");
        assertThat(events).hasSize(1);
        Event e = events.get(0);
        assertThat(e.getType()).isEqualTo("Normal");
        assertThat(e.getReason()).isEqualTo("Starting");
        assertThat(e.getAction()).isEqualTo("StartKubeProxy");
        assertThat(e.getNote()).isEqualTo("Started Pointsman in iptables mode");
        assertThat(e.getRegarding().getKind()).isEqualTo("Node");
        assertThat(e.getRegarding().getName()).isEqualTo("node-a");
        assertThat(e.getReportingController()).isEqualTo("pointsman");
        assertThat(e.getReportingInstance()).isEqualTo("pointsman-node-a");
        assertThat(e.getEventTime().getTime()).isEqualTo("2026-03-01T10:00:00.123456Z");
        assertThat(e.getMetadata().getName()).startsWith("node-a.");
        assertThat(e.getSeries()).isNull();
    }

    @Test
    void repeatedSyncFailuresMakeOneWarningWhoseSeriesCountsThemThenARecovery() throws InterruptedException {
        recorder = new EventRecorder(client, "node-a", clock);
        // Two failures are retried quietly.
        assertThat(recorder.syncOutcome(false)).isFalse();
        assertThat(recorder.syncOutcome(false)).isFalse();
        assertThat(recorder.flush(FLUSH)).isTrue();
        assertThat(events("default")).isEmpty();

        assertThat(recorder.syncOutcome(false)).isFalse();
        assertThat(recorder.flush(FLUSH)).isTrue();
        List<Event> events = events("default");
        assertThat(events).singleElement().satisfies(e -> {
            assertThat(e.getType()).isEqualTo("Warning");
            assertThat(e.getReason()).isEqualTo(EventRecorder.FAILED_SYNC);
            assertThat(e.getSeries()).isNull();
        });

        // The first repeat shows the series at once...
        clock.advance(Duration.ofSeconds(30));
        recorder.syncOutcome(false);
        assertThat(recorder.flush(FLUSH)).isTrue();
        assertThat(events("default")).singleElement().satisfies(e -> {
            assertThat(e.getSeries().getCount()).isEqualTo(2);
            assertThat(e.getSeries().getLastObservedTime().getTime()).isEqualTo("2026-03-01T10:00:30.123456Z");
        });

        // ...later ones at most every SERIES_PATCH_INTERVAL, carrying the count so far.
        clock.advance(Duration.ofSeconds(30));
        recorder.syncOutcome(false);
        assertThat(recorder.flush(FLUSH)).isTrue();
        assertThat(events("default")).singleElement().satisfies(e -> assertThat(e.getSeries().getCount()).isEqualTo(2));
        clock.advance(EventRecorder.SERIES_PATCH_INTERVAL);
        recorder.syncOutcome(false);
        assertThat(recorder.flush(FLUSH)).isTrue();
        assertThat(events("default")).singleElement().satisfies(e -> assertThat(e.getSeries().getCount()).isEqualTo(4));

        assertThat(recorder.syncOutcome(true)).isTrue();
        assertThat(recorder.syncOutcome(true)).isTrue();
        assertThat(recorder.flush(FLUSH)).isTrue();
        List<Event> after = events("default");
        assertThat(after).extracting(Event::getReason)
                .containsExactlyInAnyOrder(EventRecorder.FAILED_SYNC, EventRecorder.SYNC_RECOVERED);
        // Only create and patch reach single events: the ClusterRole grants no get.
        List<String> requests = requests();
        assertThat(requests).filteredOn(r -> r.startsWith("PATCH ")).hasSize(2)
                .allMatch(r -> r.startsWith("PATCH /apis/events.k8s.io/v1/namespaces/default/events/node-a."));
        assertThat(requests).filteredOn(r -> r.matches("(GET|PUT|DELETE) .*/events/.+")).isEmpty();
        Event recovered = after.stream().filter(e -> e.getReason().equals(EventRecorder.SYNC_RECOVERED)).findFirst().orElseThrow();
        assertThat(recovered.getType()).isEqualTo("Normal");
        assertThat(recovered.getNote()).isEqualTo("rules synced again after 6 failed syncs");
    }

    /** Method and path of every request the mock server received so far (drains its record). */
    private List<String> requests() throws InterruptedException {
        List<String> out = new java.util.ArrayList<>();
        for (int i = server.getRequestCount(); i > 0; i--) {
            var r = server.takeRequest(1, java.util.concurrent.TimeUnit.SECONDS);
            if (r == null) {
                break;
            }
            out.add(r.getMethod() + " " + r.getPath());
        }
        return out;
    }

    @Test
    void aRepeatAfterTheSeriesMaxAgeStartsANewEvent() {
        recorder = new EventRecorder(client, "node-a", clock);
        recorder.failedToStartHealthServer("0.0.0.0:10256", "Address already in use");
        clock.advance(Duration.ofMinutes(31));
        recorder.failedToStartHealthServer("0.0.0.0:10256", "Address already in use");
        assertThat(recorder.flush(FLUSH)).isTrue();
        assertThat(events("default")).hasSize(2).allSatisfy(e -> {
            assertThat(e.getReason()).isEqualTo(EventRecorder.FAILED_PROXIER_HEALTHCHECK);
            assertThat(e.getType()).isEqualTo("Warning");
            assertThat(e.getNote()).isEqualTo("failed to start proxier healthz on 0.0.0.0:10256: Address already in use");
            assertThat(e.getSeries()).isNull();
        });
    }

    @Test
    void aServiceHealthCheckFailureIsAWarningOnTheServiceInItsNamespace() {
        recorder = new EventRecorder(client, "node-a", clock);
        recorder.failedToStartServiceHealthcheck("shop", "web", "0.0.0.0:31234", "Address already in use");
        recorder.failedToStartMetricsServer("127.0.0.1:10249", "Address already in use");
        assertThat(recorder.flush(FLUSH)).isTrue();

        assertThat(events("shop")).singleElement().satisfies(e -> {
            assertThat(e.getReason()).isEqualTo(EventRecorder.FAILED_SERVICE_HEALTHCHECK);
            assertThat(e.getAction()).isEqualTo("Listen");
            assertThat(e.getRegarding().getKind()).isEqualTo("Service");
            assertThat(e.getRegarding().getNamespace()).isEqualTo("shop");
            assertThat(e.getRegarding().getName()).isEqualTo("web");
            assertThat(e.getNote()).isEqualTo("node node-a failed to start the health-check server on 0.0.0.0:31234: Address already in use");
        });
        assertThat(events("default")).singleElement()
                .satisfies(e -> assertThat(e.getReason()).isEqualTo(EventRecorder.FAILED_METRIC_SERVER));
    }

    @Test
    void anUnreachableApiCostsALogLineNeverTheCaller() {
        KubernetesMockServer gone = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        gone.init(InetAddress.getLoopbackAddress(), 0);
        io.fabric8.kubernetes.client.Config config;
        try (KubernetesClient c = gone.createClient()) {
            // No retries: the test wants the failure, not fabric8's backoff.
            config = new io.fabric8.kubernetes.client.ConfigBuilder(c.getConfiguration()).withRequestRetryBackoffLimit(0).build();
        }
        KubernetesClient goneClient = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(config).build();
        gone.destroy();
        Logger logger = (Logger) LoggerFactory.getLogger(EventRecorder.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try (goneClient) {
            recorder = new EventRecorder(goneClient, "node-a", clock);
            recorder.starting("iptables");
            assertThat(recorder.syncOutcome(true)).isTrue();
            assertThat(recorder.flush(Duration.ofSeconds(60))).isTrue();
            assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage)
                    .anySatisfy(m -> assertThat(m).startsWith("cannot record event Starting on Node node-a"));
        } finally {
            logger.detachAppender(appender);
        }
    }

    @Test
    void afterCloseEventsAreDroppedWithALogLine() {
        recorder = new EventRecorder(client, "node-a", clock);
        recorder.close();
        Logger logger = (Logger) LoggerFactory.getLogger(EventRecorder.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            recorder.starting("iptables");
        } finally {
            logger.detachAppender(appender);
        }
        assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly("event Starting on Node node-a dropped: the recorder is closed");
        assertThat(events("default")).isEmpty();
    }

    /** A clock the test moves by hand. */
    private static final class MutableClock extends Clock {
        private Instant now;

        MutableClock(Instant start) {
            this.now = start;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
