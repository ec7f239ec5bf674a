package io.pointsman.core.health;

/**
 * What a health-check NodePort answers for one Service, as upstream kube-proxy's service health
 * server writes it: 200 when the node has a ready local endpoint and the proxy is healthy, else
 * 503; always the same JSON body and headers. Pure, so tests pin the exact bytes.
 *
 * @param localEndpoints unique IPs of this node's ready endpoints of the Service
 */
public record HealthCheckReply(String namespace, String name, int localEndpoints, boolean proxyHealthy) {
    public static final String CONTENT_TYPE = "application/json";
    /** The header load balancers (e.g. GCE, Azure) read to weigh nodes by their local endpoints. */
    public static final String WEIGHT_HEADER = "X-Load-Balancing-Endpoint-Weight";

    public HealthCheckReply {
        if (localEndpoints < 0) {
            throw new IllegalArgumentException("localEndpoints: " + localEndpoints + " (expected: >= 0)");
        }
    }

    public int status() {
        return localEndpoints != 0 && proxyHealthy ? 200 : 503;
    }

    /**
     * The body, byte for byte as upstream sends it: tab-indented, no trailing newline. (Upstream
     * quotes names with Go's %q; for the DNS names Kubernetes allows that equals JSON quoting.)
     */
    public String body() {
        return "{\n"
                + "\t\"service\": {\n"
                + "\t\t\"namespace\": " + quote(namespace) + ",\n"
                + "\t\t\"name\": " + quote(name) + "\n"
                + "\t},\n"
                + "\t\"localEndpoints\": " + localEndpoints + ",\n"
                + "\t\"serviceProxyHealthy\": " + proxyHealthy + "\n"
                + "}";
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
