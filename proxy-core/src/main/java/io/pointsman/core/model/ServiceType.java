package io.pointsman.core.model;

/** The Service types that reach a proxy (ExternalName and headless Services never do). */
public enum ServiceType {
    CLUSTER_IP, NODE_PORT, LOAD_BALANCER;

    public static ServiceType parse(String value) {
        if (value == null || value.isEmpty() || "ClusterIP".equals(value)) {
            return CLUSTER_IP;
        }
        if ("NodePort".equals(value)) {
            return NODE_PORT;
        }
        if ("LoadBalancer".equals(value)) {
            return LOAD_BALANCER;
        }
        throw new IllegalArgumentException("service type: " + value
                + " (expected: ClusterIP, NodePort or LoadBalancer)");
    }
}
