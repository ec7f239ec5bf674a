package io.pointsman.core.model;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Everything a backend needs about one port of one Service. All addresses are canonical
 * (see {@link IpAddresses}); lists may hold both IP families, and backends filter by family.
 *
 * @param clusterIPs the Service's cluster IPs, primary first
 * @param nodePort the node port, 0 when the Service has none
 * @param loadBalancerIPs load-balancer ingress IPs (LoadBalancer Services only)
 * @param loadBalancerSourceRanges canonical CIDRs allowed to reach the load-balancer IPs
 * @param affinityTimeoutSeconds ClientIP session affinity timeout, 0 when affinity is off
 * @param healthCheckNodePort the health-check node port, 0 when none
 * @param trafficDistribution spec.trafficDistribution, "" when unset
 */
public record ServicePort(ServicePortName name, ServiceType type, List<String> clusterIPs, int port,
                          int nodePort, List<String> externalIPs, List<String> loadBalancerIPs,
                          List<String> loadBalancerSourceRanges, int affinityTimeoutSeconds,
                          TrafficPolicy externalTrafficPolicy, TrafficPolicy internalTrafficPolicy,
                          int healthCheckNodePort, String trafficDistribution) {

    public ServicePort {
        requireNonNull(name, "name");
        requireNonNull(type, "type");
        clusterIPs = List.copyOf(clusterIPs);
        externalIPs = List.copyOf(externalIPs);
        loadBalancerIPs = List.copyOf(loadBalancerIPs);
        loadBalancerSourceRanges = List.copyOf(loadBalancerSourceRanges);
        requireNonNull(externalTrafficPolicy, "externalTrafficPolicy");
        requireNonNull(internalTrafficPolicy, "internalTrafficPolicy");
        trafficDistribution = trafficDistribution == null ? "" : trafficDistribution;
        checkPort("port", port, false);
        checkPort("nodePort", nodePort, true);
        checkPort("healthCheckNodePort", healthCheckNodePort, true);
        if (affinityTimeoutSeconds < 0) {
            throw new IllegalArgumentException("session affinity timeout: " + affinityTimeoutSeconds
                    + " (expected: >= 0)");
        }
        if (clusterIPs.isEmpty()) {
            throw new IllegalArgumentException("clusterIPs of " + name + ": empty (expected: at least one IP)");
        }
    }

    private static void checkPort(String what, int value, boolean zeroAllowed) {
        if ((value == 0 && !zeroAllowed) || value < 0 || value > 65535) {
            throw new IllegalArgumentException(what + ": " + value + " (expected: "
                    + (zeroAllowed ? "0-65535" : "1-65535") + ")");
        }
    }

    /** A plain ClusterIP service port with defaults, handy for tests and tools. */
    public static ServicePort clusterIp(ServicePortName name, String clusterIp, int port) {
        return new ServicePort(name, ServiceType.CLUSTER_IP, List.of(clusterIp), port, 0, List.of(), List.of(),
                List.of(), 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, "");
    }

    public Protocol protocol() {
        return name.protocol();
    }

    /** The cluster IP of one family, or null when the Service has none of that family. */
    public String clusterIP(IpFamily family) {
        for (String ip : clusterIPs) {
            if (IpFamily.of(ip) == family) {
                return ip;
            }
        }
        return null;
    }

    /** Whether the port is reachable from outside the cluster network (node port, external or LB IPs). */
    public boolean externallyAccessible() {
        return nodePort != 0 || !externalIPs.isEmpty() || !loadBalancerIPs.isEmpty();
    }

    /** Upstream's ExternalPolicyLocal: Local only counts for ports that are reachable from outside. */
    public boolean externalPolicyLocal() {
        return externallyAccessible() && externalTrafficPolicy == TrafficPolicy.LOCAL;
    }

    public boolean internalPolicyLocal() {
        return internalTrafficPolicy == TrafficPolicy.LOCAL;
    }

    public boolean sessionAffinity() {
        return affinityTimeoutSeconds > 0;
    }

    /**
     * This port as one IP family's rules see it: external IPs, load-balancer IPs and source ranges
     * of that family only (cluster IPs are kept whole; callers pick theirs). Answers this same
     * record when nothing is of the other family, the common case.
     */
    public ServicePort ofFamily(IpFamily family) {
        List<String> ext = IpAddresses.ofFamily(externalIPs, family);
        List<String> lb = IpAddresses.ofFamily(loadBalancerIPs, family);
        List<String> ranges = IpAddresses.ofFamily(loadBalancerSourceRanges, family);
        if (ext == externalIPs && lb == loadBalancerIPs && ranges == loadBalancerSourceRanges) {
            return this;
        }
        return new ServicePort(name, type, clusterIPs, port, nodePort, ext, lb, ranges, affinityTimeoutSeconds,
                externalTrafficPolicy, internalTrafficPolicy, healthCheckNodePort, trafficDistribution);
    }

    public ServicePort withNodePort(int newNodePort) {
        return new ServicePort(name, type, clusterIPs, port, newNodePort, externalIPs, loadBalancerIPs,
                loadBalancerSourceRanges, affinityTimeoutSeconds, externalTrafficPolicy, internalTrafficPolicy,
                healthCheckNodePort, trafficDistribution);
    }
}
