package io.pointsman.ipvs;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import io.pointsman.ipvs.kernel.InterfaceAddress;
import io.pointsman.ipvs.kernel.IpvsClient;
import io.pointsman.ipvs.kernel.LinkClient;
import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import io.pointsman.ipvs.netlink.Errno;
import io.pointsman.ipvs.netlink.NetlinkException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The IPVS mode. Each sync reads the kernel (virtual services, the destinations of the services
 * in question, the addresses on kube-ipvs0), diffs it with the desired state and applies the
 * difference in dependency order, so a hand-made change is put back and a restart changes
 * nothing that is already right. Then the ipsets and the few iptables rules. Removed TCP
 * destinations drain at weight 0 ({@link GracefulTermination}); a background check deletes them
 * between syncs.
 */
public final class IpvsBackend implements ProxyBackend {
    public static final String MODE = "ipvs";
    private static final Logger log = LoggerFactory.getLogger(IpvsBackend.class);
    /** Upstream's capability probe: a throwaway virtual service with the configured scheduler. */
    static final ServiceKey PROBE = new ServiceKey(io.pointsman.core.model.Protocol.TCP, "198.51.100.0", 20000);

    private final BackendContext context;
    private final IpvsSettings settings;
    private final IpsetDoor ipsets;
    private final Clock clock;
    private final GracefulTermination graceful;
    private final Object lock = new Object();
    private final ScheduledExecutorService sweeper;
    private final Map<IpFamily, String> lastRules = new EnumMap<>(IpFamily.class);
    private final AtomicLong virtualServers;
    private final AtomicLong realServers;
    private final AtomicLong pendingRemovals;

    private IpvsClient ipvs;
    private LinkClient links;
    private boolean firstSync = true;
    /** Set by a drift check that found something to redo: the next sync reads and repairs everything. */
    private boolean repairAll;
    /** The state of the last successful sync, what drift checks compare the kernel with. */
    private ProxyState lastState;
    private final io.micrometer.core.instrument.Counter driftRepairs;

    public IpvsBackend(BackendContext context) {
        this(context, IpvsSettings.from(context.config(), context.hostFeatures()),
                context.netfilter().dryRun() ? new DryRunIpset() : new ExecIpset(), Clock.systemUTC());
    }

    public IpvsBackend(BackendContext context, IpvsSettings settings, IpsetDoor ipsets, Clock clock) {
        this.context = requireNonNull(context, "context");
        this.settings = requireNonNull(settings, "settings");
        this.ipsets = requireNonNull(ipsets, "ipsets");
        this.clock = requireNonNull(clock, "clock");
        this.graceful = new GracefulTermination(settings.gracefulBound());
        ProxyMetrics m = context.metrics();
        virtualServers = m.gauge("pointsman_ipvs_virtual_servers", "IPVS virtual services after the last sync", Map.of());
        realServers = m.gauge("pointsman_ipvs_real_servers", "IPVS destinations after the last sync", Map.of());
        driftRepairs = m.counter("kubeproxy.sync.proxy.rules.drift.repairs",
                "Pointsman: drift checks that found the kernel changed behind its back", Map.of("ip_family", "IPv4"));
        pendingRemovals = m.gauge("pointsman_ipvs_graceful_terminations",
                "Removed TCP destinations kept at weight 0 until their connections end", Map.of());
        if (kernelAccess()) {
            long every = settings.gracefulCheckInterval().toMillis();
            sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "ipvs-graceful-termination");
                t.setDaemon(true);
                return t;
            });
            sweeper.scheduleWithFixedDelay(this::sweep, every, every, TimeUnit.MILLISECONDS);
        } else {
            sweeper = null;
        }
    }

    @Override
    public String mode() {
        return MODE;
    }

    private boolean kernelAccess() {
        return !context.renderOnly() && !context.netfilter().dryRun();
    }

    @Override
    public SyncResult sync(ProxyState state, ChangeSet changes, boolean full) throws SyncException {
        requireNonNull(state, "state");
        requireNonNull(changes, "changes");
        if (!kernelAccess()) {
            DesiredState desired = DesiredState.of(state, settings, state.node().addresses());
            log.info("dry run: would hold {} virtual services, {} destinations, {} addresses on {}",
                    desired.services().size(), count(desired.destinations()), desired.bound().size(),
                    IpvsSettings.DUMMY_INTERFACE);
            return new SyncResult(0, Map.of("virtualServers", (long) desired.services().size()));
        }
        synchronized (lock) {
            try {
                return syncLocked(state, changes, full || firstSync);
            } catch (NetlinkException e) {
                closeKernel(); // a broken socket is reopened next time
                throw new SyncException("IPVS sync failed, previous state keeps serving: " + e.getMessage(), e);
            }
        }
    }

    /** What the kernel holds next to what {@code state} wants. */
    private record Reading(int dummy, DesiredState desired, KernelSnapshot actual) {
    }

    /**
     * Reads the kernel: the dummy link, its addresses, every virtual service, and the destinations
     * of the services {@code readDestinations} selects (all of them for a full sync or drift check).
     */
    private Reading read(ProxyState state, java.util.function.Predicate<ServicePortName> readDestinations)
            throws NetlinkException {
        int dummy = links.ensureDummy(IpvsSettings.DUMMY_INTERFACE);
        List<InterfaceAddress> addresses = links.addresses();
        Set<String> bound = new HashSet<>();
        List<String> nodeIPs = new ArrayList<>();
        for (InterfaceAddress a : addresses) {
            if (a.index() == dummy) {
                bound.add(a.address());
            }
        }
        for (InterfaceAddress a : addresses) {
            if (a.index() != dummy && !bound.contains(a.address()) && servesNodePorts(a.address())) {
                nodeIPs.add(a.address());
            }
        }
        DesiredState desired = DesiredState.of(state, settings, nodeIPs.stream().distinct().sorted().toList());

        Map<ServiceKey, VirtualServer> services = new LinkedHashMap<>();
        for (VirtualServer vs : ipvs.services()) {
            services.put(vs.key(), vs);
        }
        Set<ServiceKey> pendingServices = new HashSet<>();
        graceful.pending().forEach(p -> pendingServices.add(p.service()));
        Map<ServiceKey, List<RealServer>> dests = new HashMap<>();
        for (ServiceKey key : services.keySet()) {
            ServicePortName owner = desired.owners().get(key);
            if (owner == null) {
                continue; // deleted whole, or kept by --ipvs-exclude-cidrs
            }
            if (readDestinations.test(owner) || pendingServices.contains(key)) {
                dests.put(key, ipvs.destinations(key));
            }
        }
        return new Reading(dummy, desired, new KernelSnapshot(services, dests, bound));
    }

    /**
     * Drift repair: at every sync period, compares the whole kernel state (every destination
     * included) with what the last successful sync wanted. Anything to redo makes the next sync
     * read and repair everything, as upstream's IPVS mode does with its periodic full sync.
     */
    @Override
    public DriftReport checkDrift() throws SyncException {
        if (!kernelAccess()) {
            return DriftReport.NONE;
        }
        synchronized (lock) {
            if (lastState == null) {
                return DriftReport.NONE;
            }
            try {
                openKernel();
                Reading r = read(lastState, owner -> true);
                Plan plan = Planner.plan(r.desired(), r.actual(), key -> settings.excluded(key.address()));
                if (plan.isEmpty()) {
                    return DriftReport.NONE;
                }
                repairAll = true;
                driftRepairs.increment();
                return new DriftReport(List.of(), plan.ops().stream().map(Object::toString).toList());
            } catch (NetlinkException e) {
                closeKernel();
                throw new SyncException("IPVS drift check could not read the kernel: " + e.getMessage(), e);
            }
        }
    }

    private SyncResult syncLocked(ProxyState state, ChangeSet changes, boolean full)
            throws NetlinkException, SyncException {
        openKernel();
        boolean readAll = full || repairAll;
        Reading reading = read(state, owner -> readAll || changes.servicePorts().contains(owner));
        int dummy = reading.dummy();
        DesiredState desired = reading.desired();
        Plan plan = Planner.plan(desired, reading.actual(), key -> settings.excluded(key.address()));

        Applied applied = apply(plan, dummy, desired.owners());
        List<String> errors = new ArrayList<>(applied.errors);

        List<IpFamily> families = families(state);
        try {
            String script = IpsetSync.script(IpsetSync.parse(ipsets.save()), desired, families);
            if (!script.isEmpty()) {
                ipsets.restore(script);
            }
        } catch (IpsetException e) {
            errors.add("ipset: " + e.getMessage());
        }
        long rulesWritten = 0;
        for (IpFamily family : families) {
            try {
                rulesWritten += writeRules(family, state, desired, full);
            } catch (RestoreException e) {
                lastRules.remove(family);
                errors.add(family + " iptables: " + e.getMessage());
            }
        }

        long rs = count(desired.destinations());
        virtualServers.set(desired.services().size());
        realServers.set(rs);
        pendingRemovals.set(graceful.pending().size());
        for (IpFamily f : families) {
            long[] nl = desired.noLocalEndpoints().get(f);
            context.metrics().noLocalEndpoints("internal", f, nl[0]);
            context.metrics().noLocalEndpoints("external", f, nl[1]);
        }
        if (!errors.isEmpty()) {
            throw new SyncException(errors.size() + " IPVS sync step(s) failed (the rest was applied): "
                    + String.join("; ", errors.subList(0, Math.min(5, errors.size())))
                    + (errors.size() > 5 ? "; …" : ""));
        }
        firstSync = false;
        repairAll = false;
        lastState = state;
        Map<String, Long> counts = new LinkedHashMap<>();
        counts.put("fullSync", full ? 1L : 0L);
        counts.put("virtualServers", (long) desired.services().size());
        counts.put("realServers", rs);
        counts.put("boundAddresses", (long) desired.bound().size());
        counts.put("kernelOps", (long) applied.ops);
        counts.put("gracefulPending", (long) graceful.pending().size());
        counts.put("iptablesLines", rulesWritten);
        return new SyncResult(applied.owners.size(), counts);
    }

    private record Applied(int ops, List<String> errors, Set<ServicePortName> owners) {
    }

    /** Runs the plan; a failed step is recorded and the rest still runs (the next sync retries it). */
    private Applied apply(Plan plan, int dummy, Map<ServiceKey, ServicePortName> owners) {
        List<String> errors = new ArrayList<>();
        Set<GracefulTermination.Pending> stillPending = new HashSet<>();
        Set<ServicePortName> touched = new HashSet<>();
        int done = 0;
        Instant now = clock.instant();
        for (Plan.Op op : plan.ops()) {
            try {
                if (applyOne(op, dummy, now, stillPending)) {
                    done++;
                    ServiceKey key = serviceOf(op);
                    if (key != null && owners.get(key) != null) {
                        touched.add(owners.get(key));
                    }
                    log.debug("applied: {}", op);
                }
            } catch (NetlinkException e) {
                errors.add(e.getMessage());
                context.metrics().counter("pointsman.ipvs.netlink.errors", "Failed IPVS and rtnetlink operations",
                        Map.of()).increment();
            }
        }
        // Pending removals whose service was not dumped this sync stay pending.
        Set<GracefulTermination.Pending> keep = new HashSet<>(stillPending);
        for (GracefulTermination.Pending p : graceful.pending()) {
            boolean decided = plan.ops().stream().anyMatch(o -> o instanceof Plan.RemoveDestination r
                    && r.service().equals(p.service()) && r.current().hostPort().equals(p.destination()));
            boolean serviceTouched = plan.ops().stream().anyMatch(o -> o instanceof Plan.DeleteService d
                    && d.service().equals(p.service()));
            if (!decided && !serviceTouched && !wantedAgain(plan, p)) {
                keep.add(p);
            }
        }
        graceful.retainOnly(keep);
        if (!plan.isEmpty()) {
            log.info("IPVS: applied {} of {} operations{}", done, plan.ops().size(),
                    errors.isEmpty() ? "" : ", " + errors.size() + " failed");
        }
        return new Applied(done, errors, touched);
    }

    /** Applies one operation; false when it deliberately did nothing (a destination still draining). */
    private boolean applyOne(Plan.Op op, int dummy, Instant now, Set<GracefulTermination.Pending> stillPending)
            throws NetlinkException {
        if (op instanceof Plan.Unbind u) {
            ignore(() -> links.deleteAddress(IpvsSettings.DUMMY_INTERFACE, dummy, u.address()), Errno.EADDRNOTAVAIL);
        } else if (op instanceof Plan.RemoveDestination r) {
            GracefulTermination.Pending pending = new GracefulTermination.Pending(r.service(), r.current().hostPort());
            switch (graceful.decide(r.service(), r.current(), now)) {
                case DELETE -> ignore(() -> ipvs.deleteDestination(r.service(), r.current()), Errno.ENOENT);
                case SET_WEIGHT_ZERO -> {
                    ipvs.updateDestination(r.service(), r.current().withWeight(0));
                    stillPending.add(pending);
                    log.info("destination {} of {} drains at weight 0 ({} connections)", r.current().hostPort(),
                            r.service(), r.current().connections());
                }
                case WAIT -> {
                    stillPending.add(pending);
                    return false;
                }
            }
        } else if (op instanceof Plan.DeleteService d) {
            ignore(() -> ipvs.deleteService(d.service()), Errno.ESRCH);
        } else if (op instanceof Plan.CreateService c) {
            ipvs.newService(c.service());
        } else if (op instanceof Plan.UpdateService u) {
            ipvs.updateService(u.service());
        } else if (op instanceof Plan.CreateDestination c) {
            ipvs.newDestination(c.service(), c.destination());
        } else if (op instanceof Plan.UpdateDestination u) {
            ipvs.updateDestination(u.service(), u.destination());
        } else if (op instanceof Plan.Bind b) {
            ignore(() -> links.addAddress(IpvsSettings.DUMMY_INTERFACE, dummy, b.address()), Errno.EEXIST);
        } else {
            throw new IllegalStateException("unknown operation " + op);
        }
        return true;
    }

    private static ServiceKey serviceOf(Plan.Op op) {
        if (op instanceof Plan.RemoveDestination r) {
            return r.service();
        } else if (op instanceof Plan.DeleteService d) {
            return d.service();
        } else if (op instanceof Plan.CreateService c) {
            return c.service().key();
        } else if (op instanceof Plan.UpdateService u) {
            return u.service().key();
        } else if (op instanceof Plan.CreateDestination c) {
            return c.service();
        } else if (op instanceof Plan.UpdateDestination u) {
            return u.service();
        }
        return null;
    }

    private static boolean wantedAgain(Plan plan, GracefulTermination.Pending p) {
        return plan.ops().stream().anyMatch(o -> o instanceof Plan.UpdateDestination u
                && u.service().equals(p.service()) && u.destination().hostPort().equals(p.destination()));
    }

    /** Re-checks destinations draining at weight 0 and deletes those that are idle or past the bound. */
    void sweep() {
        synchronized (lock) {
            if (ipvs == null || graceful.pending().isEmpty()) {
                return;
            }
            Instant now = clock.instant();
            Map<ServiceKey, List<RealServer>> byService = new HashMap<>();
            for (GracefulTermination.Pending p : graceful.pending()) {
                try {
                    List<RealServer> dests = byService.get(p.service());
                    if (dests == null) {
                        dests = ipvs.destinations(p.service());
                        byService.put(p.service(), dests);
                    }
                    RealServer current = dests.stream().filter(d -> d.hostPort().equals(p.destination()))
                            .findFirst().orElse(null);
                    if (current == null) {
                        graceful.forget(p);
                        continue;
                    }
                    if (graceful.decide(p.service(), current, now) == GracefulTermination.Action.DELETE) {
                        ipvs.deleteDestination(p.service(), current);
                        log.info("drained destination {} of {} deleted ({} connections left)", p.destination(),
                                p.service(), current.connections());
                    }
                } catch (NetlinkException e) {
                    if (e.errno() == Errno.ESRCH || e.errno() == Errno.ENOENT) {
                        graceful.forget(p);
                    } else {
                        log.warn("graceful termination check of {} failed: {}", p, e.getMessage());
                    }
                }
            }
            pendingRemovals.set(graceful.pending().size());
        }
    }

    /** The destinations still draining (for tests and logs). */
    public Set<GracefulTermination.Pending> draining() {
        return graceful.pending();
    }

    private long writeRules(IpFamily family, ProxyState state, DesiredState desired, boolean full)
            throws RestoreException {
        Netfilter nf = context.netfilter();
        List<IpvsRules.Jump> missing = List.of();
        if (full || !lastRules.containsKey(family)) {
            missing = IpvsRules.missingJumps(nf.save(family, "nat"), nf.save(family, "filter"));
        }
        String payload = IpvsRules.render(family, settings, state.node(), desired, missing);
        if (!full && missing.isEmpty() && payload.equals(lastRules.get(family))) {
            return 0;
        }
        nf.restore(family, payload);
        lastRules.put(family, IpvsRules.render(family, settings, state.node(), desired, List.of()));
        return payload.lines().count();
    }

    private static boolean servesNodePorts(String ip) {
        byte[] b = IpAddresses.parse(ip);
        if (b.length == 4) {
            return b[0] != 127;
        }
        boolean loopback = ip.equals("::1");
        boolean linkLocal = (b[0] & 0xff) == 0xfe && (b[1] & 0xc0) == 0x80;
        return !loopback && !linkLocal;
    }

    /** IPv4 always; IPv6 once a Service, the node or a cluster CIDR has it. */
    private List<IpFamily> families(ProxyState state) {
        boolean v6 = settings.clusterCidr(IpFamily.IPv6) != null || !state.node().addresses(IpFamily.IPv6).isEmpty();
        for (ServicePort svc : state.services().values()) {
            v6 |= svc.clusterIP(IpFamily.IPv6) != null;
        }
        v6 |= lastRules.containsKey(IpFamily.IPv6);
        return v6 ? List.of(IpFamily.IPv4, IpFamily.IPv6) : List.of(IpFamily.IPv4);
    }

    private void openKernel() throws NetlinkException, SyncException {
        if (ipvs != null) {
            return;
        }
        IpvsClient client;
        try {
            client = IpvsClient.open();
        } catch (NetlinkException e) {
            throw new SyncException("the kernel has no IPVS (generic netlink family \"IPVS\" not found; is the ip_vs"
                    + " module available?): " + e.getMessage(), e);
        }
        try {
            probeScheduler(client);
            client.setTimeouts(settings.timeouts());
            links = LinkClient.open();
        } catch (NetlinkException | SyncException e) {
            client.close();
            throw e;
        }
        ipvs = client;
        Sysctls.apply(Sysctls.wanted(settings.strictARP()));
        log.info("IPVS ready: scheduler {}, timeouts {}, excluded {}", settings.scheduler(), settings.timeouts(),
                settings.excludeCIDRs());
    }

    /** Creates and deletes a throwaway service with the scheduler: the kernel says whether it has it. */
    private void probeScheduler(IpvsClient client) throws NetlinkException, SyncException {
        VirtualServer probe = VirtualServer.of(PROBE, settings.scheduler(), 0);
        try {
            client.newService(probe);
        } catch (NetlinkException e) {
            if (e.errno() == Errno.EEXIST) {
                client.deleteService(PROBE);
                client.newService(probe);
            } else if (e.errno() == Errno.ENOENT) {
                throw new SyncException("--ipvs-scheduler \"" + settings.scheduler() + "\": the kernel has no such"
                        + " IPVS scheduler (module ip_vs_" + settings.scheduler() + " missing): " + e.getMessage(), e);
            } else {
                throw e;
            }
        }
        client.deleteService(PROBE);
    }

    private void closeKernel() {
        if (ipvs != null) {
            ipvs.close();
            ipvs = null;
        }
        if (links != null) {
            links.close();
            links = null;
        }
        lastRules.clear();
        firstSync = true;
    }

    @Override
    public String renderFullSync(ProxyState state) {
        DesiredState desired = DesiredState.of(state, settings, state.node().addresses());
        StringBuilder b = new StringBuilder("# IPVS (ipvsadm-restore form)\n");
        b.append(IpvsText.render(desired.services(), valuesOf(desired.destinations())));
        b.append("# addresses on ").append(IpvsSettings.DUMMY_INTERFACE).append('\n');
        desired.bound().forEach(ip -> b.append(ip).append(IpFamily.of(ip) == IpFamily.IPv4 ? "/32" : "/128")
                .append('\n'));
        List<IpFamily> families = families(state);
        b.append("# ipset restore\n").append(IpsetSync.script(Map.of(), desired, families));
        for (IpFamily f : families) {
            b.append("# ").append(f).append(" iptables-restore\n")
                    .append(IpvsRules.render(f, settings, state.node(), desired, IpvsRules.JUMPS));
        }
        return b.toString();
    }

    private static Map<ServiceKey, List<RealServer>> valuesOf(Map<ServiceKey, Map<String, RealServer>> m) {
        Map<ServiceKey, List<RealServer>> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, List.copyOf(v.values())));
        return out;
    }

    private static long count(Map<ServiceKey, Map<String, RealServer>> m) {
        return m.values().stream().mapToLong(Map::size).sum();
    }

    @FunctionalInterface
    private interface KernelCall {
        void run() throws NetlinkException;
    }

    /** Runs {@code call}; an errno that means "already as wanted" is not an error. */
    private static void ignore(KernelCall call, int alreadyDone) throws NetlinkException {
        try {
            call.run();
        } catch (NetlinkException e) {
            if (e.errno() != alreadyDone) {
                throw e;
            }
        }
    }

    @Override
    public void close() {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        synchronized (lock) {
            closeKernel();
        }
    }

    /** Logs the ipset script instead of running it (dry run). */
    static final class DryRunIpset implements IpsetDoor {
        @Override
        public String save() {
            return "";
        }

        @Override
        public void restore(String script) {
            log.info("dry run: ipset restore script ({} lines)", script.lines().count());
        }

        @Override
        public boolean dryRun() {
            return true;
        }
    }
}
