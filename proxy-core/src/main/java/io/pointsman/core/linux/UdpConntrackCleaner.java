package io.pointsman.core.linux;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes stale UDP conntrack flows after a sync, so that a client's next datagram of an ongoing
 * flow is balanced again instead of following an entry that still points at a gone endpoint
 * (UDP has no connection end that would retire it). Upstream kube-proxy's rule: a UDP flow whose
 * original destination is a service IP:port (cluster, external or load-balancer IP) or a UDP
 * NodePort, and whose reply source is not one of that service port's serving endpoints, is stale.
 *
 * <p>Unlike upstream, the first run after a start does not flush every UDP service flow: it
 * checks every UDP service port against the endpoints present, so flows to endpoints that still
 * serve survive a restart. Later runs check only the UDP service ports whose addresses or serving
 * endpoints changed, and those removed. Two further differences, both narrower than upstream:
 * a flow counts as a NodePort flow only when its destination is an address of this node (an
 * outgoing flow to some remote port of the same number is left alone), and a reply source must
 * match an endpoint's address and port (an endpoint whose port changed leaves stale flows too).
 *
 * <p>Failures (no conntrack tool, a refused deletion) are logged; the ports are checked again at
 * the next run. Not thread-safe: the reconciler thread calls it.
 */
public final class UdpConntrackCleaner {
    private static final Logger log = LoggerFactory.getLogger(UdpConntrackCleaner.class);
    private static final String IP_FAMILY = "ip_family";
    static final String DURATION_METRIC = "kubeproxy_conntrack_reconciler_sync_duration_seconds";
    static final String DELETED_METRIC = "kubeproxy.conntrack.reconciler.deleted.entries";
    private static final double[] BUCKETS = ProxyMetrics.exponentialBuckets(0.001, 2, 15);

    /** What a UDP service port looked like when last checked. */
    private record PortView(Set<String> ips, int port, int nodePort, Set<String> serving) {
    }

    /** What one run did, for logs and tests. */
    public record Outcome(Set<ServicePortName> checked, Map<IpFamily, Integer> deleted, boolean failed) {
        public Outcome {
            checked = Set.copyOf(checked);
            deleted = Map.copyOf(deleted);
        }

        public int totalDeleted() {
            return deleted.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    private final Conntrack conntrack;
    private final ProxyMetrics metrics;
    private final Set<IpFamily> families;
    private final Supplier<? extends Collection<String>> localAddresses;
    private Map<ServicePortName, PortView> last = Map.of();
    private boolean first = true;
    private String lastError;

    /**
     * @param families the families the proxy serves (only their tables are read)
     * @param localAddresses this node's own addresses (canonical), to tell NodePort flows apart
     */
    public UdpConntrackCleaner(Conntrack conntrack, ProxyMetrics metrics, Set<IpFamily> families,
                               Supplier<? extends Collection<String>> localAddresses) {
        this.conntrack = requireNonNull(conntrack, "conntrack");
        this.metrics = requireNonNull(metrics, "metrics");
        this.families = Set.copyOf(families);
        this.localAddresses = requireNonNull(localAddresses, "localAddresses");
    }

    /** The UDP service ports of {@code state} as this cleaner compares them. */
    private static Map<ServicePortName, PortView> views(ProxyState state) {
        Map<ServicePortName, PortView> out = new HashMap<>();
        for (Map.Entry<ServicePortName, ServicePort> e : state.services().entrySet()) {
            ServicePort svc = e.getValue();
            if (svc.protocol() != Protocol.UDP) {
                continue;
            }
            Set<String> ips = new TreeSet<>(svc.clusterIPs());
            ips.addAll(svc.externalIPs());
            ips.addAll(svc.loadBalancerIPs());
            Set<String> serving = new TreeSet<>();
            for (Endpoint ep : state.endpointsOf(e.getKey())) {
                // Every serving endpoint, whatever the traffic policy or topology: flows to any of them are fine.
                if (ep.ready() || ep.serving()) {
                    serving.add(ep.hostPort());
                }
            }
            out.put(e.getKey(), new PortView(ips, svc.port(), svc.nodePort(), serving));
        }
        return out;
    }

    /** Checks the UDP service ports that changed since the last run (all of them on the first run). */
    public Outcome clean(ProxyState state) {
        Map<ServicePortName, PortView> now = views(state);
        Set<ServicePortName> changed = new HashSet<>();
        for (Map.Entry<ServicePortName, PortView> e : now.entrySet()) {
            if (first || !e.getValue().equals(last.get(e.getKey()))) {
                changed.add(e.getKey());
            }
        }
        for (ServicePortName gone : last.keySet()) {
            if (!now.containsKey(gone)) {
                changed.add(gone);
            }
        }
        if (changed.isEmpty()) {
            last = now;
            first = false;
            return new Outcome(Set.of(), Map.of(), false);
        }

        // Destinations ("ip:port" and node ports) to check, with the replies allowed for each.
        Set<String> claimed = new HashSet<>();
        Set<Integer> claimedNodePorts = new HashSet<>();
        for (PortView v : now.values()) {
            v.ips().forEach(ip -> claimed.add(ConntrackFlow.hostPort(ip, v.port())));
            if (v.nodePort() != 0) {
                claimedNodePorts.add(v.nodePort());
            }
        }
        Map<String, Set<String>> byDestination = new HashMap<>();
        Map<Integer, Set<String>> byNodePort = new HashMap<>();
        for (ServicePortName name : changed) {
            PortView v = now.get(name);
            if (v != null) {
                for (String ip : v.ips()) {
                    byDestination.computeIfAbsent(ConntrackFlow.hostPort(ip, v.port()), k -> new HashSet<>())
                            .addAll(v.serving());
                }
                if (v.nodePort() != 0) {
                    byNodePort.computeIfAbsent(v.nodePort(), k -> new HashSet<>()).addAll(v.serving());
                }
                continue;
            }
            // A removed port: nothing serves its old addresses any more, unless another port took them.
            PortView old = last.get(name);
            for (String ip : old.ips()) {
                String d = ConntrackFlow.hostPort(ip, old.port());
                if (!claimed.contains(d)) {
                    byDestination.putIfAbsent(d, Set.of());
                }
            }
            if (old.nodePort() != 0 && !claimedNodePorts.contains(old.nodePort())) {
                byNodePort.putIfAbsent(old.nodePort(), Set.of());
            }
        }

        Set<String> local = null;
        Map<IpFamily, Integer> deleted = new EnumMap<>(IpFamily.class);
        boolean failed = false;
        for (IpFamily family : IpFamily.values()) {
            if (!families.contains(family)) {
                continue;
            }
            boolean any = !byNodePort.isEmpty()
                    || byDestination.keySet().stream().anyMatch(d -> familyOfHostPort(d) == family);
            if (!any) {
                continue;
            }
            if (local == null && !byNodePort.isEmpty()) {
                local = localAddresses(state);
            }
            long t0 = System.nanoTime();
            try {
                deleted.put(family, cleanFamily(family, byDestination, byNodePort, local));
            } catch (ConntrackException e) {
                failed = true;
                String msg = e.getMessage();
                if (!msg.equals(lastError)) {
                    log.warn("stale UDP conntrack cleanup of {} failed, will retry at the next sync: {}", family, msg);
                } else {
                    log.debug("stale UDP conntrack cleanup of {} failed again: {}", family, msg);
                }
                lastError = msg;
            } finally {
                metrics.observe(DURATION_METRIC, "[ALPHA] ReconcileConntrackFlowsLatency latency in seconds",
                        Map.of(IP_FAMILY, family.name()), BUCKETS, (System.nanoTime() - t0) / 1e9);
            }
        }
        if (!failed) {
            // Only a complete run moves the baseline; after a failure the same ports are checked again.
            last = now;
            first = false;
            lastError = null;
        }
        Outcome outcome = new Outcome(changed, deleted, failed);
        if (outcome.totalDeleted() > 0) {
            log.info("deleted {} stale UDP conntrack flows {} after checking {} UDP service ports", outcome.totalDeleted(),
                    deleted, changed.size());
        }
        return outcome;
    }

    private int cleanFamily(IpFamily family, Map<String, Set<String>> byDestination, Map<Integer, Set<String>> byNodePort,
                            Set<String> local) throws ConntrackException {
        List<ConntrackFlow> flows = conntrack.list(family, Protocol.UDP);
        Set<Conntrack.Filter> stale = new LinkedHashSet<>();
        for (ConntrackFlow f : flows) {
            String reply = ConntrackFlow.hostPort(f.replySrc(), f.replySrcPort());
            Set<String> allowed = byDestination.get(ConntrackFlow.hostPort(f.origDst(), f.origDstPort()));
            if (allowed == null && local != null && local.contains(f.origDst())) {
                allowed = byNodePort.get(f.origDstPort());
            }
            if (allowed != null && !allowed.contains(reply)) {
                stale.add(new Conntrack.Filter(family, Protocol.UDP, f.origDst(), f.origDstPort(), f.replySrc(),
                        f.replySrcPort()));
            }
        }
        int deleted = 0;
        List<String> failures = new ArrayList<>();
        for (Conntrack.Filter filter : stale) {
            try {
                int n = conntrack.delete(filter);
                deleted += n;
                log.debug("deleted {} stale conntrack flows: {}", n, filter);
            } catch (ConntrackException e) {
                failures.add(e.getMessage());
            }
        }
        if (deleted > 0) {
            metrics.counter(DELETED_METRIC, "[ALPHA] Cumulative conntrack flows deleted by conntrack reconciler",
                    Map.of(IP_FAMILY, family.name())).increment(deleted);
        }
        if (!failures.isEmpty()) {
            throw new ConntrackException(failures.size() + " of " + stale.size() + " deletions failed, first: "
                    + failures.get(0));
        }
        return deleted;
    }

    /** This node's addresses: what the supplier reports, the Node's own, and loopback. */
    private Set<String> localAddresses(ProxyState state) {
        Set<String> out = new HashSet<>();
        for (String a : localAddresses.get()) {
            out.add(IpAddresses.canonical(a));
        }
        out.addAll(state.node().addresses());
        out.add("127.0.0.1");
        out.add("::1");
        return out;
    }

    private static IpFamily familyOfHostPort(String hostPort) {
        return hostPort.startsWith("[") ? IpFamily.IPv6 : IpFamily.IPv4;
    }
}
