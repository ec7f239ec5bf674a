package io.pointsman.core.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.MicroTime;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.api.model.events.v1.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records the Kubernetes Events an operator must see ({@code events.k8s.io/v1}), with upstream
 * kube-proxy's reasons where it has one: {@code Starting} on the Node, {@code FailedToStartProxierHealthcheck}
 * and {@code FailedToStartMetricServer} on the Node, {@code FailedToStartServiceHealthcheck} on the
 * Service. Pointsman adds {@code FailedToSyncProxyRules} after {@value #FAILURES_BEFORE_EVENT}
 * failed syncs in a row and {@code SyncProxyRulesRecovered} when syncing works again.
 *
 * <p>An event that repeats (same object, reason, type and note) patches the first one's
 * {@code series} (count, last observed time) with a JSON merge patch instead of creating another:
 * the first repeat at once, later ones at most every {@link #SERIES_PATCH_INTERVAL}, so a long
 * outage costs the API server little. After {@link #SERIES_MAX_AGE} a repeat starts a new event.
 *
 * <p>Events are posted by one background thread from a bounded queue: recording never blocks the
 * caller (the sync loop), and a failing API costs a log line, never the daemon.
 */
public final class EventRecorder implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventRecorder.class);

    public static final String REPORTING_CONTROLLER = "pointsman";
    public static final String TYPE_NORMAL = "Normal";
    public static final String TYPE_WARNING = "Warning";
    public static final String STARTING = "Starting";
    public static final String FAILED_PROXIER_HEALTHCHECK = "FailedToStartProxierHealthcheck";
    public static final String FAILED_METRIC_SERVER = "FailedToStartMetricServer";
    public static final String FAILED_SERVICE_HEALTHCHECK = "FailedToStartServiceHealthcheck";
    public static final String FAILED_SYNC = "FailedToSyncProxyRules";
    public static final String SYNC_RECOVERED = "SyncProxyRulesRecovered";
    /** Upstream's action for the events of the proxy's start. */
    static final String ACTION_START = "StartKubeProxy";
    static final String ACTION_SYNC = "SyncProxyRules";
    static final String ACTION_LISTEN = "Listen";
    /** Failed syncs in a row before a Warning; one failure is retried quietly within syncPeriod. */
    public static final int FAILURES_BEFORE_EVENT = 3;
    /** Repeats of one event update its series at most this often. */
    public static final Duration SERIES_PATCH_INTERVAL = Duration.ofMinutes(5);
    /** A repeat after this long starts a new event instead of extending the old series. */
    static final Duration SERIES_MAX_AGE = Duration.ofMinutes(30);
    private static final int QUEUE = 64;
    /** The API limits a note to 1 kB. */
    private static final int MAX_NOTE = 1024;
    private static final DateTimeFormatter MICRO_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

    private final KubernetesClient client;
    private final String nodeName;
    private final Clock clock;
    private final ThreadPoolExecutor poster;
    /** Events already created, by what makes two occurrences "the same"; touched only by the poster thread. */
    private final Map<Key, Series> series = new HashMap<>();
    private int failedSyncsInARow;

    private record Key(String namespace, String kind, String name, String type, String reason, String note) {
    }

    private static final class Series {
        /** As created: patches go through it, so fabric8 never GETs the event (RBAC grants no get). */
        final Event event;
        final Instant firstSeen;
        int count = 1;
        /** Null until the first repeat, which is patched at once so the series shows. */
        Instant lastPatched;
        Instant lastSeen;

        Series(Event event, Instant firstSeen) {
            this.event = event;
            this.firstSeen = firstSeen;
            this.lastSeen = firstSeen;
        }
    }

    /**
     * @param client the API client; owned by the caller, not closed here
     * @param nodeName this node: the object the proxy's own events are about
     */
    public EventRecorder(KubernetesClient client, String nodeName, Clock clock) {
        this.client = requireNonNull(client, "client");
        this.nodeName = requireNonNull(nodeName, "nodeName");
        this.clock = requireNonNull(clock, "clock");
        this.poster = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), r -> {
            Thread t = new Thread(r, "event-recorder");
            t.setDaemon(true);
            return t;
        });
    }

    /** The proxy started (upstream's "birth cry"): a Normal {@code Starting} event on the Node naming the mode. */
    public void starting(String mode) {
        record(nodeRef(), TYPE_NORMAL, STARTING, ACTION_START, "Started Pointsman in " + mode + " mode");
    }

    /** The health server ({@code healthzBindAddress}) could not listen. */
    public void failedToStartHealthServer(String address, String error) {
        record(nodeRef(), TYPE_WARNING, FAILED_PROXIER_HEALTHCHECK, ACTION_START,
                "failed to start proxier healthz on " + address + ": " + error);
    }

    /** The metrics server ({@code metricsBindAddress}) could not listen. */
    public void failedToStartMetricsServer(String address, String error) {
        record(nodeRef(), TYPE_WARNING, FAILED_METRIC_SERVER, ACTION_START,
                "failed to start metrics server on " + address + ": " + error);
    }

    /**
     * A Service's health-check NodePort server could not listen (externalTrafficPolicy: Local).
     * Fits {@code ServiceHealthServers.FailureListener} as a method reference.
     */
    public void failedToStartServiceHealthcheck(String namespace, String name, String address, String error) {
        ObjectReference service = new ObjectReferenceBuilder().withApiVersion("v1").withKind("Service")
                .withNamespace(namespace).withName(name).build();
        record(service, TYPE_WARNING, FAILED_SERVICE_HEALTHCHECK, ACTION_LISTEN,
                "node " + nodeName + " failed to start the health-check server on " + address + ": " + error);
    }

    /**
     * Notes one sync's outcome and answers it unchanged, so it can wrap the sync function. The
     * {@value #FAILURES_BEFORE_EVENT}th failure in a row and every later one record a Warning
     * (repeats extend its series); the first success after that records a Normal recovery.
     */
    public synchronized boolean syncOutcome(boolean ok) {
        if (ok) {
            if (failedSyncsInARow >= FAILURES_BEFORE_EVENT) {
                record(nodeRef(), TYPE_NORMAL, SYNC_RECOVERED, ACTION_SYNC,
                        "rules synced again after " + failedSyncsInARow + " failed syncs");
            }
            failedSyncsInARow = 0;
        } else {
            failedSyncsInARow++;
            if (failedSyncsInARow >= FAILURES_BEFORE_EVENT) {
                record(nodeRef(), TYPE_WARNING, FAILED_SYNC, ACTION_SYNC,
                        "syncing the proxy rules keeps failing; the rules written before keep serving; "
                                + "see this node's Pointsman log for the error");
            }
        }
        return ok;
    }

    /** "pointsman-NODE", cut to the API's 128 characters (node names may be longer). */
    private String reportingInstance() {
        String instance = REPORTING_CONTROLLER + "-" + nodeName;
        return instance.length() > 128 ? instance.substring(0, 128) : instance;
    }

    private ObjectReference nodeRef() {
        // As upstream: a Node reference whose UID is the node's name (the real UID is not needed).
        return new ObjectReferenceBuilder().withApiVersion("v1").withKind("Node").withName(nodeName)
                .withUid(nodeName).build();
    }

    private void record(ObjectReference regarding, String type, String reason, String action, String note) {
        String n = note.length() > MAX_NOTE ? note.substring(0, MAX_NOTE - 3) + "..." : note;
        Instant now = clock.instant();
        try {
            poster.execute(() -> post(regarding, type, reason, action, n, now));
        } catch (RejectedExecutionException e) {
            log.warn("event {} on {} {} dropped: {}", reason, regarding.getKind(), regarding.getName(),
                    poster.isShutdown() ? "the recorder is closed" : "too many events queued");
        }
    }

    private void post(ObjectReference regarding, String type, String reason, String action, String note, Instant now) {
        // Cluster-scoped objects (the Node) have their events in "default", as upstream does.
        String namespace = regarding.getNamespace() == null || regarding.getNamespace().isEmpty()
                ? "default" : regarding.getNamespace();
        Key key = new Key(namespace, regarding.getKind(), regarding.getName(), type, reason, note);
        Series s = series.get(key);
        try {
            if (s != null && Duration.between(s.firstSeen, now).compareTo(SERIES_MAX_AGE) < 0) {
                s.count++;
                s.lastSeen = now;
                if (s.lastPatched == null || Duration.between(s.lastPatched, now).compareTo(SERIES_PATCH_INTERVAL) >= 0) {
                    patchSeries(s);
                    s.lastPatched = now;
                }
                return;
            }
            String name = regarding.getName() + "." + Long.toHexString(now.getEpochSecond() * 1_000_000_000L + now.getNano());
            Event event = new EventBuilder()
                    .withMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build())
                    .withEventTime(new MicroTime(MICRO_TIME.format(now)))
                    .withReportingController(REPORTING_CONTROLLER)
                    .withReportingInstance(reportingInstance())
                    .withAction(action)
                    .withReason(reason)
                    .withType(type)
                    .withNote(note)
                    .withRegarding(regarding)
                    .build();
            Event created = client.events().v1().events().inNamespace(namespace).resource(event).create();
            series.put(key, new Series(created != null ? created : event, now));
            log.debug("recorded event {} {} on {} {}: {}", type, reason, regarding.getKind(), regarding.getName(), note);
        } catch (KubernetesClientException e) {
            log.warn("cannot record event {} on {} {} ({}): {}", reason, regarding.getKind(), regarding.getName(),
                    note, e.getMessage());
        }
    }

    private void patchSeries(Series s) {
        String patch = "{\"series\":{\"count\":" + s.count + ",\"lastObservedTime\":\""
                + MICRO_TIME.format(s.lastSeen) + "\"}}";
        client.events().v1().events().inNamespace(s.event.getMetadata().getNamespace()).resource(s.event)
                .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    }

    /** Waits until every event recorded so far has been posted (or failed), up to {@code timeout}. */
    public boolean flush(Duration timeout) {
        try {
            return poster.submit(() -> { }).get(timeout.toMillis(), TimeUnit.MILLISECONDS) == null;
        } catch (RejectedExecutionException e) {
            return poster.isTerminated();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Posts what is queued (up to 2 s), then stops; later events are dropped with a log line. */
    @Override
    public void close() {
        poster.shutdown();
        try {
            if (!poster.awaitTermination(2, TimeUnit.SECONDS)) {
                log.warn("{} events not posted before shutdown", poster.getQueue().size());
                poster.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            poster.shutdownNow();
        }
    }
}
