package io.pointsman.core.topology;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ServicePort;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Which endpoints a service port uses on this node, with upstream kube-proxy's semantics
 * (CategorizeEndpoints). Every backend calls this, so they all agree.
 *
 * <ul>
 *   <li>Cluster traffic: ready endpoints, filtered by topology hints when every ready endpoint has
 *   hints and one matches this node; when none is ready, serving-and-terminating ones.</li>
 *   <li>Local traffic: this node's ready endpoints; when none, this node's serving-and-terminating ones.</li>
 * </ul>
 */
public final class EndpointSelector {
    private EndpointSelector() {
    }

    /** Topology filtering in force for a service port. */
    public enum TopologyMode { NONE, PREFER_SAME_ZONE, PREFER_SAME_NODE }

    /**
     * @param clusterEndpoints endpoints for Cluster policies; empty when no policy needs them
     * @param localEndpoints endpoints for Local policies; empty when no policy is Local
     * @param allReachable the union of both, each endpoint once (cluster order first)
     * @param hasAnyEndpoints whether any usable endpoint exists anywhere (REJECT vs DROP)
     */
    public record Selection(List<Endpoint> clusterEndpoints, List<Endpoint> localEndpoints,
                            List<Endpoint> allReachable, boolean hasAnyEndpoints, TopologyMode topologyMode) {
        public Selection {
            clusterEndpoints = List.copyOf(clusterEndpoints);
            localEndpoints = List.copyOf(localEndpoints);
            allReachable = List.copyOf(allReachable);
        }
    }

    /**
     * Whether cluster-wide endpoints are ever used: internal Cluster, or any externally reachable
     * port, since even with external Local, traffic from pods and from the node itself is
     * short-circuited to the cluster-wide endpoints (upstream's UsesClusterEndpoints).
     */
    public static boolean usesClusterEndpoints(ServicePort svc) {
        return !svc.internalPolicyLocal() || svc.externallyAccessible();
    }

    public static boolean usesLocalEndpoints(ServicePort svc) {
        return svc.internalPolicyLocal() || svc.externalPolicyLocal();
    }

    /**
     * Categorises {@code endpoints} (one family, in their stable order) for {@code svc} on {@code node}.
     * PreferSameNode hints are honoured only when {@code preferSameNode} is on (upstream's
     * PreferSameTrafficDistribution gate, on by default since 1.35).
     */
    public static Selection select(List<Endpoint> endpoints, ServicePort svc, NodeInfo node, boolean preferSameNode) {
        String nodeName = node.name();
        String zone = node.zone();
        List<Endpoint> cluster = List.of();
        boolean hasAny = false;
        TopologyMode mode = TopologyMode.NONE;

        if (usesClusterEndpoints(svc)) {
            mode = topologyMode(endpoints, nodeName, zone, preferSameNode);
            TopologyMode m = mode;
            cluster = filter(endpoints, ep -> ep.ready() && availableForTopology(ep, m, nodeName, zone));
            if (cluster.isEmpty()) {
                cluster = filter(endpoints, ep -> ep.serving() && ep.terminating());
            }
            hasAny = !cluster.isEmpty();
        }
        if (!usesLocalEndpoints(svc)) {
            return new Selection(cluster, List.of(), cluster, hasAny, mode);
        }

        boolean localReady = false;
        boolean localServingTerminating = false;
        for (Endpoint ep : endpoints) {
            if (ep.ready()) {
                hasAny = true;
                localReady |= ep.isLocal(nodeName);
            } else if (ep.serving() && ep.terminating()) {
                hasAny = true;
                localServingTerminating |= ep.isLocal(nodeName);
            }
        }
        List<Endpoint> local = List.of();
        if (localReady) {
            local = filter(endpoints, ep -> ep.isLocal(nodeName) && ep.ready());
        } else if (localServingTerminating) {
            local = filter(endpoints, ep -> ep.isLocal(nodeName) && ep.serving() && ep.terminating());
        }
        if (!usesClusterEndpoints(svc)) {
            return new Selection(List.of(), local, local, hasAny, mode);
        }
        Map<String, Endpoint> union = new LinkedHashMap<>();
        for (Endpoint ep : cluster) {
            union.put(ep.hostPort(), ep);
        }
        for (Endpoint ep : local) {
            union.putIfAbsent(ep.hostPort(), ep);
        }
        List<Endpoint> all = new ArrayList<>(union.values());
        all.sort(null);
        return new Selection(cluster, local, all, hasAny, mode);
    }

    /** Upstream's topologyModeFromHints: hints count only when every ready endpoint has them and one matches. */
    static TopologyMode topologyMode(List<Endpoint> endpoints, String nodeName, String zone, boolean preferSameNode) {
        boolean forNode = false;
        boolean allNodeHints = true;
        boolean forZone = false;
        boolean allZoneHints = true;
        boolean anyReady = false;
        for (Endpoint ep : endpoints) {
            if (!ep.ready()) {
                continue;
            }
            anyReady = true;
            if (ep.nodeHints().isEmpty()) {
                allNodeHints = false;
            } else if (ep.nodeHints().contains(nodeName)) {
                forNode = true;
            }
            if (ep.zoneHints().isEmpty()) {
                allZoneHints = false;
            } else if (ep.zoneHints().contains(zone)) {
                forZone = true;
            }
        }
        if (!anyReady) {
            return TopologyMode.NONE;
        }
        if (preferSameNode && allNodeHints && forNode) {
            return TopologyMode.PREFER_SAME_NODE;
        }
        if (allZoneHints && forZone && !zone.isEmpty()) {
            return TopologyMode.PREFER_SAME_ZONE;
        }
        return TopologyMode.NONE;
    }

    private static boolean availableForTopology(Endpoint ep, TopologyMode mode, String nodeName, String zone) {
        return switch (mode) {
            case NONE -> true;
            case PREFER_SAME_NODE -> ep.nodeHints().contains(nodeName);
            case PREFER_SAME_ZONE -> ep.zoneHints().contains(zone);
        };
    }

    private static List<Endpoint> filter(List<Endpoint> endpoints, Predicate<Endpoint> keep) {
        List<Endpoint> out = new ArrayList<>();
        for (Endpoint ep : endpoints) {
            if (keep.test(ep)) {
                out.add(ep);
            }
        }
        return out;
    }
}
