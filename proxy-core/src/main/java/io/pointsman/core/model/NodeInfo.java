package io.pointsman.core.model;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Map;

/**
 * The node this proxy runs on.
 *
 * @param addresses canonical node IPs (InternalIP first, then ExternalIP), possibly empty
 * @param podCIDRs canonical pod CIDRs allocated to the node
 */
public record NodeInfo(String name, Map<String, String> labels, List<String> addresses, List<String> podCIDRs) {
    public static final String ZONE_LABEL = "topology.kubernetes.io/zone";

    public NodeInfo {
        requireNonNull(name, "name");
        labels = Map.copyOf(labels);
        addresses = List.copyOf(addresses);
        podCIDRs = List.copyOf(podCIDRs);
    }

    /** A node known only by name (its Node object has not been seen). */
    public static NodeInfo named(String name) {
        return new NodeInfo(name, Map.of(), List.of(), List.of());
    }

    /** The node's zone label, "" when it has none. */
    public String zone() {
        return labels.getOrDefault(ZONE_LABEL, "");
    }

    /** The node IPs of one family. */
    public List<String> addresses(IpFamily family) {
        return addresses.stream().filter(a -> IpFamily.of(a) == family).toList();
    }
}
