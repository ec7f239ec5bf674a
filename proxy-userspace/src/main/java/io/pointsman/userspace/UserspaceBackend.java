package io.pointsman.userspace;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import io.pointsman.core.sync.Reconciler;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --proxy-mode userspace}: every service port is served by Netty listeners that relay TCP
 * connections and UDP sessions to the endpoints. Cluster IPs, external IPs and load-balancer IPs
 * reach the relay through the portal rules ({@link PortalRules}, written through core's
 * {@link Netfilter} door); node ports are bound directly. Without root the daemon hands in a
 * dry-run Netfilter: the rules are only logged, and the listeners still serve.
 *
 * <p>A sync changes the endpoint pools at once (new connections use the new endpoints,
 * established ones are never cut while their endpoint exists; TCP connections are also left to
 * end by themselves when it goes, as with kernel NAT, while UDP sessions to it end), opens and
 * closes listeners, and rewrites the portal chains when an address or relay port changed.
 */
public final class UserspaceBackend implements ProxyBackend {
    private static final Logger log = LoggerFactory.getLogger(UserspaceBackend.class);
    static final String MODE = "userspace";
    /** How long a sync waits for a relay port to bind; binding an ephemeral port is immediate. */
    static final Duration BIND_WAIT = Duration.ofSeconds(5);

    private final BackendContext context;
    private final Set<IpFamily> families;
    private final Supplier<List<InetAddress>> localAddresses;
    private final RelayRuntime runtime;
    private final Map<ServicePortName, ServicePortRelay> relays = new ConcurrentHashMap<>();
    private final Map<IpFamily, String> lastPayload = new EnumMap<>(IpFamily.class);
    private final Set<ServicePortName> unsupportedLogged = new HashSet<>();
    private final ScheduledFuture<?> affinitySweep;
    private List<InetAddress> nodePortAddresses;

    public UserspaceBackend(BackendContext context) {
        this(context, context.renderOnly() ? null : Transport.choose(false), RelayRuntime.defaultThreads(),
                NodePortAddresses::localAddresses, RelayOptions.of(context.config().userspace()));
    }

    UserspaceBackend(BackendContext context, Transport transport, int threads, Supplier<List<InetAddress>> localAddresses,
                     RelayOptions options) {
        this.context = context;
        this.families = Reconciler.families(context.config().clusterCIDRs());
        this.localAddresses = localAddresses;
        if (transport == null) {
            runtime = null;
            affinitySweep = null;
            return;
        }
        runtime = new RelayRuntime(transport, threads, options, new RelayMetrics(context.metrics()));
        affinitySweep = runtime.group().scheduleAtFixedRate(this::expireAffinity, 10, 10, TimeUnit.SECONDS);
        log.info("userspace relay: {} transport{}, {} event loop(s), connect timeout {} ms, TCP idle timeout {}, "
                        + "UDP idle timeout {} ms, portal rules {}",
                transport == Transport.EPOLL ? "native epoll" : "NIO",
                transport == Transport.EPOLL ? "" : " (epoll unavailable: " + Transport.whyNotEpoll() + ")",
                threads, options.connectTimeoutMillis(),
                options.tcpIdleTimeout().isZero() ? "off" : options.tcpIdleTimeout().toMillis() + " ms",
                options.udpIdleTimeout().toMillis(),
                context.netfilter().dryRun() ? "logged only (dry run)" : "written with iptables-restore");
    }

    @Override
    public String mode() {
        return MODE;
    }

    @Override
    public SyncResult sync(ProxyState state, ChangeSet changes, boolean full) throws SyncException {
        if (runtime == null) {
            throw new SyncException("the userspace backend was created for rendering only; it cannot serve");
        }
        List<InetAddress> npAddresses = NodePortAddresses.resolve(context.config().nodePortAddresses(), state.node(),
                families, localAddresses);
        boolean addressesChanged = !npAddresses.equals(nodePortAddresses);
        nodePortAddresses = npAddresses;

        Set<ServicePortName> todo = new TreeSet<>();
        if (full || addressesChanged || changes.nodeChanged()) {
            todo.addAll(state.services().keySet());
            todo.addAll(relays.keySet());
        } else {
            todo.addAll(changes.servicePorts());
        }

        List<Future<List<Channel>>> binds = new ArrayList<>();
        for (ServicePortName name : todo) {
            ServicePort svc = state.services().get(name);
            if (svc != null && svc.protocol() == Protocol.SCTP) {
                if (unsupportedLogged.add(name)) {
                    log.warn("{}: SCTP is not relayed by the userspace mode; service port ignored", name);
                }
                svc = null;
            }
            if (svc == null) {
                ServicePortRelay gone = relays.remove(name);
                if (gone != null) {
                    gone.close();
                    log.debug("{}: removed, listeners closed", name);
                }
                continue;
            }
            ServicePortRelay relay = relays.computeIfAbsent(name, n -> new ServicePortRelay(n, runtime));
            binds.addAll(relay.apply(svc, state.endpointsOf(name), state.node(), families, npAddresses));
        }
        awaitBinds(binds);

        // Relay ports that did not bind leave their addresses without a portal rule until the next sync.
        List<String> missing = new ArrayList<>();
        for (ServicePortRelay relay : relays.values()) {
            for (Listener.Spec spec : relay.unbound()) {
                if (spec.role() != Listener.Role.NODE_PORT) {
                    missing.add(relay.name() + " " + spec);
                }
            }
        }
        Map<String, Long> counts = new LinkedHashMap<>();
        long portalRules = writePortals(full);
        counts.put("listeners", (long) relays.values().stream().mapToInt(ServicePortRelay::listenerCount).sum());
        counts.put("portalRules", portalRules);
        if (!missing.isEmpty()) {
            relays.values().forEach(ServicePortRelay::forgetUnboundRelays);
            throw new SyncException("relay ports could not be bound for " + missing.size() + " listener(s) ("
                    + String.join(", ", missing.subList(0, Math.min(3, missing.size())))
                    + (missing.size() > 3 ? ", ..." : "") + "); their addresses have no portal rule yet, retrying");
        }
        return new SyncResult(todo.size(), counts);
    }

    private static void awaitBinds(List<Future<List<Channel>>> binds) {
        long deadline = System.nanoTime() + BIND_WAIT.toNanos();
        for (Future<List<Channel>> f : binds) {
            long left = deadline - System.nanoTime();
            if (left > 0) {
                f.awaitUninterruptibly(left, TimeUnit.NANOSECONDS);
            }
        }
    }

    /** Rewrites the portal chains of each family when they changed (always on a full sync); answers the rule count. */
    private long writePortals(boolean full) throws SyncException {
        long rules = 0;
        Netfilter netfilter = context.netfilter();
        for (IpFamily family : families) {
            List<PortalRules.Portal> portals = portals(family);
            rules += PortalRules.ruleCount(portals);
            String payload = PortalRules.render(family, portals, false);
            if (!full && payload.equals(lastPayload.get(family))) {
                continue;
            }
            try {
                boolean jumps = !full && lastPayload.containsKey(family)
                        || PortalRules.jumpsPresent(netfilter.save(family, "nat"));
                String text = jumps ? payload : PortalRules.render(family, portals, true);
                netfilter.restore(family, text);
                lastPayload.put(family, payload);
            } catch (RestoreException e) {
                lastPayload.remove(family);
                throw new SyncException("writing the " + family + " portal rules failed (the listeners keep serving,"
                        + " the previous portal rules stay): " + e.getMessage(), e);
            }
        }
        return rules;
    }

    private List<PortalRules.Portal> portals(IpFamily family) {
        List<PortalRules.Portal> out = new ArrayList<>();
        for (ServicePortRelay relay : relays.values()) {
            out.addAll(relay.portals(family));
        }
        return out;
    }

    /**
     * The portal rules a full sync writes for {@code state}, with the jumps. Relay ports are chosen
     * by the kernel when listeners bind, so they are shown as 0 here.
     */
    @Override
    public String renderFullSync(ProxyState state) {
        StringBuilder b = new StringBuilder();
        b.append("# userspace mode: relay ports are chosen by the kernel when the listeners bind (shown as 0);\n")
                .append("# node ports are served by listeners bound directly and need no rule.\n");
        for (IpFamily family : families) {
            List<PortalRules.Portal> portals = new ArrayList<>();
            for (ServicePort svc : state.sortedServices().values()) {
                if (svc.protocol() == Protocol.SCTP || svc.clusterIP(family) == null) {
                    continue;
                }
                portals.add(new PortalRules.Portal(svc.name(), svc.protocol(), svc.clusterIP(family), svc.port(), 0,
                        List.of()));
                List<String> ranges = svc.loadBalancerSourceRanges().stream()
                        .filter(r -> IpFamily.of(r) == family).toList();
                for (String ip : svc.externalIPs()) {
                    if (IpFamily.of(ip) == family) {
                        portals.add(new PortalRules.Portal(svc.name(), svc.protocol(), ip, svc.port(), 0, List.of()));
                    }
                }
                for (String ip : svc.loadBalancerIPs()) {
                    if (IpFamily.of(ip) == family) {
                        portals.add(new PortalRules.Portal(svc.name(), svc.protocol(), ip, svc.port(), 0, ranges));
                    }
                }
            }
            b.append("# ").append(family).append('\n').append(PortalRules.render(family, portals, true));
        }
        return b.toString();
    }

    private void expireAffinity() {
        try {
            relays.values().forEach(ServicePortRelay::expireAffinity);
        } catch (RuntimeException e) {
            log.warn("expiring ClientIP affinity entries failed: {}", e.toString());
        }
    }

    /** The bound relay port of a service port (tests). */
    int relayPort(ServicePortName name, Listener.Role role, IpFamily family) {
        ServicePortRelay r = relays.get(name);
        return r == null ? -1 : r.relayPort(role, family);
    }

    ServicePortRelay relay(ServicePortName name) {
        return relays.get(name);
    }

    RelayRuntime runtime() {
        return runtime;
    }

    /** Closes every listener and connection; the portal rules stay, as kube-proxy leaves its rules. */
    @Override
    public void close() {
        if (runtime == null) {
            return;
        }
        if (affinitySweep != null) {
            affinitySweep.cancel(false);
        }
        relays.values().forEach(ServicePortRelay::close);
        relays.clear();
        runtime.close();
    }
}
