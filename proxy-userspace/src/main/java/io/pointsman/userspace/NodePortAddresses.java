package io.pointsman.userspace;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
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

    static List<InetAddress> resolve(List<String> configured, NodeInfo node, Set<IpFamily> families,
                                     Supplier<List<InetAddress>> localAddresses) {
        if (configured.isEmpty()) {
            return List.of(families.contains(IpFamily.IPv6) ? ANY_V6 : ANY_V4);
        }
        Set<InetAddress> out = new LinkedHashSet<>();
        List<String> cidrs = new ArrayList<>();
        for (String entry : configured) {
            if ("primary".equals(entry)) {
                for (String ip : node.addresses()) {
                    if (families.contains(IpFamily.of(ip))) {
                        out.add(literal(ip));
                    }
                }
            } else {
                cidrs.add(IpAddresses.canonicalCidr(entry));
            }
        }
        if (!cidrs.isEmpty()) {
            for (InetAddress a : localAddresses.get()) {
                String ip = IpAddresses.format(a.getAddress());
                if (!families.contains(IpFamily.of(ip))) {
                    continue;
                }
                for (String cidr : cidrs) {
                    if (IpAddresses.cidrContains(cidr, ip)) {
                        out.add(literal(ip));
                        break;
                    }
                }
            }
        }
        return List.copyOf(out);
    }

    /** The addresses of this host's interfaces (those that are up). */
    static List<InetAddress> localAddresses() {
        List<InetAddress> out = new ArrayList<>();
        try {
            for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (nif.isUp()) {
                    out.addAll(Collections.list(nif.getInetAddresses()));
                }
            }
        } catch (SocketException e) {
            throw new IllegalStateException("cannot list this host's addresses: " + e.getMessage(), e);
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
