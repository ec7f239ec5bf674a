package io.pointsman.userspace;

import io.pointsman.core.health.NodePortBindAddresses;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Where node ports are bound, from {@code nodePortAddresses}: empty means every local address
 * (one wildcard socket: {@code 0.0.0.0}, or {@code ::} when the node serves IPv6, which on Linux
 * also takes IPv4 clients); otherwise each local address inside one of the CIDRs, and the node's
 * own addresses for the keyword {@code primary}.
 */
final class NodePortAddresses {
    static final InetAddress ANY_V4 = literal("0.0.0.0");
    static final InetAddress ANY_V6 = literal("::");

    private NodePortAddresses() {
    }

    /** Core's node-port address selection (the health-check servers use the same), as socket addresses. */
    static List<InetAddress> resolve(List<String> configured, NodeInfo node, Set<IpFamily> families,
                                     Supplier<List<InetAddress>> localAddresses) {
        List<String> local = new ArrayList<>();
        for (InetAddress a : localAddresses.get()) {
            local.add(IpAddresses.format(a.getAddress()));
        }
        List<InetAddress> out = new ArrayList<>();
        for (String ip : NodePortBindAddresses.select(configured, families, local, node)) {
            out.add(literal(ip));
        }
        return List.copyOf(out);
    }

    /** This host's interface addresses (without IPv6 link-local ones). */
    static List<InetAddress> localAddresses() {
        List<InetAddress> out = new ArrayList<>();
        for (String ip : NodePortBindAddresses.interfaceAddresses()) {
            out.add(literal(ip));
        }
        return out;
    }

    /** An InetAddress of an IP literal; never a name lookup. */
    static InetAddress literal(String ip) {
        try {
            return InetAddress.getByAddress(IpAddresses.parse(ip));
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("IP address: \"" + ip + "\" (expected: an IPv4 or IPv6 literal)", e);
        }
    }
}
