package io.pointsman.core.model;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The full desired snapshot: every proxied service port, its endpoints (both families, sorted),
 * and this node. Immutable; value equality is the diff.
 */
public record ProxyState(NodeInfo node, Map<ServicePortName, ServicePort> services,
                         Map<ServicePortName, List<Endpoint>> endpoints) {

    public ProxyState {
        requireNonNull(node, "node");
        services = Map.copyOf(services);
        endpoints = Map.copyOf(endpoints);
    }

    public static ProxyState empty(String nodeName) {
        return new ProxyState(NodeInfo.named(nodeName), Map.of(), Map.of());
    }

    /** Endpoints of a service port (both families), empty when none. */
    public List<Endpoint> endpointsOf(ServicePortName name) {
        return endpoints.getOrDefault(name, List.of());
    }

    /** Service ports in a stable order, for deterministic rendering. */
    public SortedMap<ServicePortName, ServicePort> sortedServices() {
        return new TreeMap<>(services);
    }

    public int endpointCount() {
        int n = 0;
        for (List<Endpoint> eps : endpoints.values()) {
            n += eps.size();
        }
        return n;
    }
}
