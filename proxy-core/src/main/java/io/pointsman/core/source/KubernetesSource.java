package io.pointsman.core.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds a {@link ChangeTracker} from the Kubernetes API with three shared informers, as upstream
 * kube-proxy does: Services in all namespaces, EndpointSlices (discovery.k8s.io/v1) in all
 * namespaces, and this node's Node. Handlers only record changes.
 *
 * <p>Selectors are also enforced in the tracker (set-based label selectors and field selectors are
 * not honoured by every server, e.g. fabric8's mock): headless Services are skipped by the
 * converter, headless slices by the tracker, foreign Nodes by the tracker.
 *
 * <p>Each kind is marked synced from the informer's own event stream (fabric8's {@code onList},
 * delivered after the initial list's adds), so the tracker has seen every listed object before
 * it reports {@link ChangeTracker#initialized()}.
 *
 * <p>When the API server goes away, fabric8 retries each watch with backoff on its own and says
 * nothing above debug level. A small check notices a watch that stays down for
 * {@link #WATCH_LOST_AFTER} and logs one warning per informer, and one line when it is back:
 * an outage costs two lines per informer, however long it lasts.
 */
public final class KubernetesSource implements Source {
    private static final Logger log = LoggerFactory.getLogger(KubernetesSource.class);
    /** How often the watches are checked. */
    static final Duration WATCH_CHECK_PERIOD = Duration.ofSeconds(2);
    /** How long a watch may be down before it is logged (a watch is re-opened every few minutes). */
    static final Duration WATCH_LOST_AFTER = Duration.ofSeconds(6);

    private final KubernetesClient client;
    private final String nodeName;
    private final long resyncMillis;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    private final List<WatchState> watches = new ArrayList<>();
    private ScheduledExecutorService watchCheck;
    private final AtomicBoolean started = new AtomicBoolean();
    private volatile boolean closed;

    /**
     * @param client owned by the caller; {@link #close()} does not close it
     * @param resyncPeriod informer resync period (kube-proxy's configSyncPeriod); zero disables resyncs
     */
    public KubernetesSource(KubernetesClient client, String nodeName, Duration resyncPeriod) {
        this.client = requireNonNull(client, "client");
        this.nodeName = requireNonNull(nodeName, "nodeName");
        if (resyncPeriod.isNegative()) {
            throw new IllegalArgumentException("resync period: " + resyncPeriod + " (expected: >= 0)");
        }
        this.resyncMillis = resyncPeriod.toMillis();
    }

    @Override
    public synchronized void start(ChangeTracker tracker) {
        requireNonNull(tracker, "tracker");
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("KubernetesSource already started");
        }
        if (!tracker.nodeName().equals(nodeName)) {
            throw new IllegalArgumentException("tracker node name: " + tracker.nodeName()
                    + " (expected: " + nodeName + ", this source's node)");
        }
        String proxyName = tracker.serviceProxyName();
        var services = client.services().inAnyNamespace();
        var selectedServices = proxyName.isEmpty()
                ? services.withoutLabel(ModelConverter.SERVICE_PROXY_NAME_LABEL)
                : services.withLabel(ModelConverter.SERVICE_PROXY_NAME_LABEL, proxyName);
        SharedIndexInformer<Service> serviceInformer = selectedServices
                .withoutField("spec.clusterIP", "None")
                .runnableInformer(resyncMillis);
        SharedIndexInformer<EndpointSlice> sliceInformer = client.discovery().v1().endpointSlices().inAnyNamespace()
                .withoutLabel(ModelConverter.HEADLESS_LABEL)
                .runnableInformer(resyncMillis);
        SharedIndexInformer<Node> nodeInformer = client.nodes()
                .withField("metadata.name", nodeName)
                .runnableInformer(resyncMillis);

        register(serviceInformer, "Services", tracker::updateService,
                (ns, name) -> tracker.deleteService(ns, name), tracker::markServicesSynced);
        register(sliceInformer, "EndpointSlices", tracker::updateEndpointSlice,
                (ns, name) -> tracker.deleteEndpointSlice(ns, name), tracker::markEndpointSlicesSynced);
        register(nodeInformer, "Node " + nodeName, tracker::updateNode,
                (ns, name) -> tracker.deleteNode(name), tracker::markNodeSynced);
        log.info("Watching Services, EndpointSlices and Node {} (resync every {} s{})", nodeName,
                resyncMillis / 1000, proxyName.isEmpty() ? "" : ", service proxy name " + proxyName);
        watchCheck = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "watch-check");
            t.setDaemon(true);
            return t;
        });
        long period = WATCH_CHECK_PERIOD.toMillis();
        watchCheck.scheduleWithFixedDelay(this::checkWatches, period, period, TimeUnit.MILLISECONDS);
    }

    /** One informer's watch, as the last checks saw it. Touched only by the watch-check thread. */
    private static final class WatchState {
        final String what;
        final SharedIndexInformer<?> informer;
        long downSinceNanos;
        boolean reported;

        WatchState(String what, SharedIndexInformer<?> informer) {
            this.what = what;
            this.informer = informer;
        }
    }

    private void checkWatches() {
        List<WatchState> current;
        synchronized (this) {
            current = List.copyOf(watches);
        }
        long now = System.nanoTime();
        for (WatchState w : current) {
            try {
                if (closed || !w.informer.hasSynced()) {
                    continue; // before the first list, failures are logged by the exception handler
                }
                if (w.informer.isWatching()) {
                    if (w.reported) {
                        log.info("Watching {} again after {} s; changes made meanwhile are being applied", w.what,
                                TimeUnit.NANOSECONDS.toSeconds(now - w.downSinceNanos));
                    }
                    w.downSinceNanos = 0;
                    w.reported = false;
                } else if (w.downSinceNanos == 0) {
                    w.downSinceNanos = now;
                } else if (!w.reported && now - w.downSinceNanos >= WATCH_LOST_AFTER.toNanos()) {
                    w.reported = true;
                    log.warn("Watch of {} down for {} s (API server unreachable?); the rules in place keep serving,"
                            + " retrying with backoff", w.what, TimeUnit.NANOSECONDS.toSeconds(now - w.downSinceNanos));
                }
            } catch (RuntimeException e) {
                log.debug("Checking the watch of {} failed", w.what, e);
            }
        }
    }

    private <T extends HasMetadata> void register(SharedIndexInformer<T> informer, String what, Consumer<T> upsert,
                                                  BiConsumer<String, String> delete, Runnable synced) {
        informer.addEventHandler(new Handler<>(what, upsert, delete, synced));
        // Keep retrying lists and watches (with fabric8's backoff) instead of giving up: a proxy
        // must outlive API server restarts and start before the API is reachable.
        informer.exceptionHandler((isStarted, t) -> {
            if (!closed) {
                log.warn("Watching {} failed: {}; retrying", what, rootCause(t));
            }
            return true;
        });
        informers.add(informer);
        watches.add(new WatchState(what, informer));
        informer.start().whenComplete((v, t) -> {
            if (t != null) {
                if (closed) {
                    log.debug("Informer for {} stopped before it listed", what);
                } else {
                    log.error("Informer for {} stopped: {}", what, rootCause(t));
                }
            } else {
                log.debug("Informer for {} listed and watching", what);
            }
        });
    }

    /** Whether every informer has listed once (fabric8's view; the tracker's is {@link ChangeTracker#initialized()}). */
    public synchronized boolean hasSynced() {
        return !informers.isEmpty() && informers.stream().allMatch(SharedIndexInformer::hasSynced);
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (watchCheck != null) {
            watchCheck.shutdownNow();
            watchCheck = null;
        }
        for (SharedIndexInformer<?> informer : informers) {
            try {
                informer.stop();
            } catch (RuntimeException e) {
                log.debug("Stopping informer failed", e);
            }
        }
        informers.clear();
        watches.clear();
    }

    /** The failure without its CompletionException wrappers, e.g. "java.net.ConnectException: ...". */
    private static String rootCause(Throwable t) {
        Throwable c = t;
        while ((c instanceof java.util.concurrent.CompletionException
                || c instanceof java.util.concurrent.ExecutionException) && c.getCause() != null) {
            c = c.getCause();
        }
        return c.toString();
    }

    /** Records every event in the tracker; one bad event never stops the informer. */
    private static final class Handler<T extends HasMetadata> implements ResourceEventHandler<T> {
        private final String what;
        private final Consumer<T> upsert;
        private final BiConsumer<String, String> delete;
        private final Runnable synced;
        private final AtomicBoolean listed = new AtomicBoolean();

        Handler(String what, Consumer<T> upsert, BiConsumer<String, String> delete, Runnable synced) {
            this.what = what;
            this.upsert = upsert;
            this.delete = delete;
            this.synced = synced;
        }

        @Override
        public void onAdd(T obj) {
            guarded(() -> upsert.accept(obj), obj);
        }

        @Override
        public void onUpdate(T oldObj, T newObj) {
            guarded(() -> upsert.accept(newObj), newObj);
        }

        @Override
        public void onDelete(T obj, boolean deletedFinalStateUnknown) {
            if (obj == null || obj.getMetadata() == null) {
                return;
            }
            guarded(() -> delete.accept(obj.getMetadata().getNamespace(), obj.getMetadata().getName()), obj);
        }

        /** Delivered in order after the adds of a list; the first one completes the initial list. */
        @Override
        public void onList(String resourceVersion, boolean nothing) {
            if (listed.compareAndSet(false, true)) {
                log.debug("{} listed at resourceVersion {}", what, resourceVersion);
                synced.run();
            }
        }

        private void guarded(Runnable action, T obj) {
            try {
                action.run();
            } catch (RuntimeException e) {
                log.error("Recording {} {} failed; ignored", what, ChangeTracker.describe(obj), e);
            }
        }
    }
}
