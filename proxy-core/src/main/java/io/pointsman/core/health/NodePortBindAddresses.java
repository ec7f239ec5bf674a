package io.pointsman.core.health;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Where health-check NodePorts listen: the node addresses {@code nodePortAddresses} selects, read
 * per IP family as the rule renderers read it. A family with no CIDR of its own and no "primary"
 * keyword (or with a /0) matches every address, and is served by the wildcard address.
 */
public final class NodePortBindAddresses {
    public static final String IPV4_ANY = "0.0.0.0";
    public static final String IPV6_ANY = "::";

    private NodePortBindAddresses() {
    }

    /**
     * @param nodePortAddresses canonical CIDRs or "primary" (validated configuration)
     * @param families the families the proxy serves
     * @param localAddresses canonical addresses of this host's interfaces (the CIDRs select among them)
     * @param node this node ("primary" is its first address of a family)
     * @return addresses to bind, each once: "0.0.0.0" when every family matches all (or "::",
     *         a dual-stack socket, when IPv6 is served too), else the selected addresses, with
     *         "0.0.0.0" for IPv4 or every interface address for IPv6 when that family matches all
     */
    public static List<String> select(List<String> nodePortAddresses, Set<IpFamily> families,
                                      List<String> localAddresses, NodeInfo node) {
        boolean primary = nodePortAddresses.contains("primary");
        List<IpFamily> served = new ArrayList<>();
        for (IpFamily f : IpFamily.values()) {
            if (families.contains(f)) {
                served.add(f);
            }
        }
        boolean everyFamilyAll = true;
        Set<String> out = new LinkedHashSet<>();
        for (IpFamily f : served) {
            List<String> cidrs = new ArrayList<>();
            for (String a : nodePortAddresses) {
                if (!"primary".equals(a) && IpAddresses.familyOf(a) == f) {
                    cidrs.add(a);
                }
            }
            boolean all = (cidrs.isEmpty() && !primary) || cidrs.stream().anyMatch(c -> c.endsWith("/0"));
            everyFamilyAll &= all;
            if (all && f == IpFamily.IPv4) {
                out.add(IPV4_ANY);
                continue;
            }
            if (all) {
                // Not "::": that socket would take IPv4 too and collide with the IPv4 listeners.
                for (String ip : localAddresses) {
                    if (IpAddresses.familyOf(ip) == f) {
                        out.add(ip);
                    }
                }
                continue;
            }
            for (String ip : localAddresses) {
                if (IpAddresses.familyOf(ip) == f && cidrs.stream().anyMatch(c -> IpAddresses.cidrContains(c, ip))) {
                    out.add(ip);
                }
            }
            List<String> own = node.addresses(f);
            if (primary && !own.isEmpty()) {
                out.add(own.get(0));
            }
        }
        if (everyFamilyAll && !served.isEmpty()) {
            // One socket for both families: a second wildcard bind would collide with the first.
            return List.of(served.contains(IpFamily.IPv6) ? IPV6_ANY : IPV4_ANY);
        }
        return List.copyOf(out);
    }

    /**
     * The canonical addresses of this host's interfaces (the network namespace the JVM runs in),
     * without IPv6 link-local ones, which need a scope to bind. Empty when they cannot be read.
     */
    public static List<String> interfaceAddresses() {
        List<String> out = new ArrayList<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                    if (a instanceof Inet6Address && a.isLinkLocalAddress()) {
                        continue;
                    }
                    out.add(IpAddresses.format(a.getAddress()));
                }
            }
        } catch (SocketException e) {
            return List.of();
        }
        return out;
    }
}
