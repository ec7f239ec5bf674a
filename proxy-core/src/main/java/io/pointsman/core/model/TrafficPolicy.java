package io.pointsman.core.model;

/** internalTrafficPolicy / externalTrafficPolicy. */
public enum TrafficPolicy {
    CLUSTER, LOCAL;

    /** Parses the API value; absent means Cluster, as the API defaults it. */
    public static TrafficPolicy parse(String value) {
        if (value == null || value.isEmpty() || "Cluster".equals(value)) {
            return CLUSTER;
        }
        if ("Local".equals(value)) {
            return LOCAL;
        }
        throw new IllegalArgumentException("traffic policy: " + value + " (expected: Cluster or Local)");
    }
}
