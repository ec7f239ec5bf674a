package io.pointsman.daemon;

import io.pointsman.core.config.ConfigJson;
import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.health.NodePortBindAddresses;
import io.pointsman.core.health.ServiceHealthServers;
import io.pointsman.core.http.HealthServer;
import io.pointsman.core.http.MetricsServer;
import io.pointsman.core.http.ProxyHealth;
import io.pointsman.core.linux.Conntrack;
import io.pointsman.core.linux.DryRunNetfilter;
import io.pointsman.core.linux.ExecConntrack;
import io.pointsman.core.linux.ExecNetfilter;
import io.pointsman.core.linux.ExecNfacct;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.ProcSysctl;
import io.pointsman.core.linux.StartupSysctls;
import io.pointsman.core.linux.UdpConntrackCleaner;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.source.ChangeTracker;
import io.pointsman.core.source.EventRecorder;
import io.pointsman.core.source.KubeClients;
import io.pointsman.core.source.KubernetesSource;
import io.pointsman.core.source.ManifestSource;
import io.pointsman.core.source.Source;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.ProxyBackendProvider;
import io.pointsman.core.sync.Reconciler;
import io.pointsman.core.sync.SyncRunner;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The wiring: source → change tracker → reconciler (on the sync runner's thread) → backend, plus
 * the metrics and health servers. Data flows one way; see DESIGN.md.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final ProxyConfig config;
    private final String from;
    private final boolean dryRunAsked;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile MetricsServer metricsServer;
    private volatile HealthServer healthServer;
    private volatile Reconciler reconciler;
    private volatile ChangeTracker tracker;
    /** Kubernetes Events; null with --from (no API to post them to). */
    private volatile EventRecorder events;

    public Daemon(ProxyConfig config, String from, boolean dryRun) {
        this.config = config;
        this.from = from;
        this.dryRunAsked = dryRun;
    }

    /** Starts everything; returns once the servers listen and the source is started. */
    public void start() {
        ProxyBackendProvider provider = Backends.forMode(config.mode());
        String nodeName = NodeName.resolve(config.hostnameOverride(), from == null ? null : Path.of(from));
        Netfilter netfilter = netfilter();
        ProxyMetrics metrics = new ProxyMetrics(config.mode());
        Set<String> features = new HashSet<>(HostFeatures.detect(netfilter));
        if (!netfilter.dryRun()) {
            // The node's own network namespace: the one this process runs in.
            features.addAll(StartupSysctls.apply(config, new ProcSysctl()).features());
            if ("iptables".equals(config.mode()) && HostFeatures.nfacctCounters(new ExecNfacct(), metrics)) {
                features.add("nfacct");
            }
        }
        ProxyBackend backend = provider.create(new BackendContext(config, metrics, netfilter, features, false));
        closeables.add(backend);
        Set<IpFamily> families = Reconciler.families(config.clusterCIDRs());

        tracker = new ChangeTracker(nodeName, metrics, config.serviceProxyName());
        ProxyHealth health = ProxyHealth.forSyncPeriod(config.effectiveSyncPeriod(), tracker::nodeEligible);
        reconciler = new Reconciler(tracker, backend, metrics, health, families, Clock.systemUTC(),
                config.effectiveSyncPeriod());
        SyncRunner runner = new SyncRunner("sync-runner", () -> {
            boolean ok = reconciler.syncOnce();
            EventRecorder e = events;
            return e == null ? ok : e.syncOutcome(ok);
        },
                // The runner wakes at least every sync period: the reconciler then checks for drift,
                // and makes the sync full when the hourly full sync is due.
                config.effectiveMinSyncPeriod(), config.effectiveSyncPeriod(), config.effectiveSyncPeriod());
        tracker.setListener(() -> {
            reconciler.queued();
            runner.request();
        });
        afterSyncSteps(metrics, health, families, netfilter);

        // Made before the servers (not started yet) so that a failed listener can be recorded as an Event.
        Source source = source(nodeName);
        closeables.add(source);
        if (!config.metricsBindAddress().isEmpty()) {
            metricsServer = new MetricsServer(config.metricsBindAddress(), metrics, () -> ConfigJson.configz(config));
            try {
                metricsServer.start();
            } catch (UncheckedIOException e) {
                if (events != null) {
                    events.failedToStartMetricsServer(config.metricsBindAddress(), e.getMessage());
                }
                throw e;
            }
            closeables.add(metricsServer);
        }
        if (!config.healthzBindAddress().isEmpty()) {
            healthServer = new HealthServer(config.healthzBindAddress(), health, metrics);
            try {
                healthServer.start();
            } catch (UncheckedIOException e) {
                if (events != null) {
                    events.failedToStartHealthServer(config.healthzBindAddress(), e.getMessage());
                }
                throw e;
            }
            closeables.add(healthServer);
        }
        closeables.add(runner);
        runner.start();

        log.info("Pointsman started: mode {}, node {}, source {}, {}, metrics {}, health {}", provider.mode(),
                nodeName, from != null ? "manifests at " + from : "Kubernetes API",
                netfilter.dryRun() ? "dry run" : "writing to the kernel",
                config.metricsBindAddress().isEmpty() ? "off" : config.metricsBindAddress(),
                config.healthzBindAddress().isEmpty() ? "off" : config.healthzBindAddress());
        source.start(tracker);
        if (events != null) {
            events.starting(provider.mode());
        }
        runner.request();
    }

    /** Side effects of a successful sync, in every mode: health-check NodePorts, stale UDP conntrack flows. */
    private void afterSyncSteps(ProxyMetrics metrics, ProxyHealth health, Set<IpFamily> families, Netfilter netfilter) {
        if (netfilter.dryRun()) {
            // A load balancer must not send traffic to a node whose rules were never applied.
            log.info("dry run: health-check node ports are not served and no conntrack flow is deleted");
            return;
        }
        ServiceHealthServers healthChecks = ServiceHealthServers.forNode(health, config.nodePortAddresses(), families,
                (namespace, name, address, error) -> {
                    EventRecorder e = events;
                    if (e != null) {
                        e.failedToStartServiceHealthcheck(namespace, name, address, error);
                    }
                });
        closeables.add(healthChecks);
        reconciler.addAfterSync("health-check node ports", (state, changes, full) -> healthChecks.sync(state));
        // The userspace mode NATs nothing: its flows end at its own sockets, none is ever stale.
        if (!"userspace".equals(config.mode())) {
            if (HostFeatures.which("conntrack") == null) {
                log.warn("conntrack (conntrack-tools) not found on the PATH: stale UDP flows will not be deleted "
                        + "after endpoint changes, and each cleanup attempt will fail");
            }
            Conntrack conntrack = new ExecConntrack();
            UdpConntrackCleaner cleaner = new UdpConntrackCleaner(conntrack, metrics, families,
                    NodePortBindAddresses::interfaceAddresses);
            reconciler.addAfterSync("stale UDP conntrack cleanup", (state, changes, full) -> cleaner.clean(state));
        }
    }

    private Source source(String nodeName) {
        if (from != null) {
            Path p = Path.of(from);
            if (!Files.exists(p)) {
                throw new StartupException("--from " + from + ": no such file or directory");
            }
            return new ManifestSource(p);
        }
        KubernetesClient client = KubeClients.create(config.kubeconfig(), config.master());
        closeables.add(client);
        events = new EventRecorder(client, nodeName, Clock.systemUTC());
        closeables.add(events);
        return new KubernetesSource(client, nodeName, config.configSyncPeriod());
    }

    private Netfilter netfilter() {
        if (dryRunAsked) {
            return new DryRunNetfilter();
        }
        String why = HostFeatures.whyNoKernelAccess(config.mode());
        if (why != null) {
            log.warn("running as a dry run: {}; every payload is logged instead of applied", why);
            return new DryRunNetfilter();
        }
        return new ExecNetfilter();
    }

    /** Runs until SIGTERM/SIGINT; rules stay in place, as kube-proxy leaves them. */
    public int runUntilStopped() {
        AtomicBoolean stopping = new AtomicBoolean();
        Runnable stop = () -> {
            if (stopping.compareAndSet(false, true)) {
                log.info("stopping: rules stay in place");
                close();
            }
        };
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "shutdown"));
        // SIGTERM (the kubelet stopping the pod) and SIGINT are normal stops: handled here, the
        // process exits 0 once closed; left to the JVM's default handler it would exit 143.
        for (String signal : List.of("TERM", "INT")) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> stop.run());
            } catch (IllegalArgumentException e) {
                log.debug("SIG{} is not handled here ({}); the shutdown hook stops the daemon", signal, e.getMessage());
            }
        }
        start();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    public int metricsPort() {
        return metricsServer == null ? -1 : metricsServer.port();
    }

    public int healthPort() {
        return healthServer == null ? -1 : healthServer.port();
    }

    /** Number of successful syncs so far. */
    public long syncs() {
        return reconciler == null ? 0 : reconciler.syncs();
    }

    @Override
    public void close() {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception e) {
                log.warn("closing {}: {}", closeables.get(i).getClass().getSimpleName(), e.toString());
            }
        }
        closeables.clear();
        stopped.countDown();
    }
}
