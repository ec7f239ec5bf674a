package io.pointsman.core.model;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Set;

/**
 * One backend of one service port, as an EndpointSlice describes it.
 *
 * @param ip canonical IP address (see {@link IpAddresses#canonical(String)})
 * @param nodeName the node the endpoint runs on, "" when the slice does not say
 * @param zone the endpoint's zone, "" when unknown
 * @param zoneHints zones the EndpointSlice controller hints this endpoint for
 * @param nodeHints nodes the EndpointSlice controller hints this endpoint for
 */
public record Endpoint(String ip, int port, boolean ready, boolean serving, boolean terminating,
                       String nodeName, String zone, Set<String> zoneHints, Set<String> nodeHints)
        implements Comparable<Endpoint> {

    public Endpoint {
        requireNonNull(ip, "ip");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("endpoint port: " + port + " (expected: 1-65535)");
        }
        nodeName = nodeName == null ? "" : nodeName;
        zone = zone == null ? "" : zone;
        zoneHints = zoneHints == null ? Set.of() : Set.copyOf(zoneHints);
        nodeHints = nodeHints == null ? Set.of() : Set.copyOf(nodeHints);
    }

    /** A ready endpoint with no topology information. */
    public static Endpoint ready(String ip, int port, String nodeName) {
        return new Endpoint(ip, port, true, true, false, nodeName, "", Set.of(), Set.of());
    }

    /** "ip:port", or "[ip]:port" for IPv6, as upstream formats endpoints in comments and hashes. */
    public String hostPort() {
        return ip.indexOf(':') >= 0 ? "[" + ip + "]:" + port : ip + ":" + port;
    }

    public IpFamily family() {
        return IpFamily.of(ip);
    }

    /** The endpoints of one family; the same list when all are (the common case, no copy). */
    public static List<Endpoint> ofFamily(List<Endpoint> endpoints, IpFamily family) {
        for (Endpoint ep : endpoints) {
            if (ep.family() != family) {
                return endpoints.stream().filter(e -> e.family() == family).toList();
            }
        }
        return endpoints;
    }

    public boolean isLocal(String thisNode) {
        return !nodeName.isEmpty() && nodeName.equals(thisNode);
    }

    /** Upstream sorts a service port's endpoints by their "ip:port" text; so do we, for identical rule order. */
    @Override
    public int compareTo(Endpoint o) {
        return hostPort().compareTo(o.hostPort());
    }
}
