package io.pointsman.ipvs;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.topology.EndpointSelector;
import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the kernel should hold for a {@link ProxyState}: virtual services with their
 * destinations, the addresses bound to kube-ipvs0, and the ipset entries per family. Computed
 * by {@link #of}, a pure function of the state, the settings and the node's addresses.
 *
 * @param services every virtual service, by key
 * @param destinations each virtual service's destinations, by "ip:port"
 * @param owners the service port each virtual service serves (for partial syncs and logs)
 * @param bound addresses to bind on kube-ipvs0
 * @param ipsets per family, per set, the entries in {@code ipset save} form
 * @param noLocalEndpoints per family, service ports with a Local policy and no local endpoint {internal, external}
 */
public record DesiredState(Map<ServiceKey, VirtualServer> services,
                           Map<ServiceKey, Map<String, RealServer>> destinations,
                           Map<ServiceKey, ServicePortName> owners, Set<String> bound,
                           Map<IpFamily, Map<IpsetSpec, Set<String>>> ipsets,
                           Map<IpFamily, long[]> noLocalEndpoints) {
    private static final Logger log = LoggerFactory.getLogger(DesiredState.class);

    public DesiredState {
        services = Collections.unmodifiableMap(new TreeMap<>(services));
        destinations = Collections.unmodifiableMap(new TreeMap<>(destinations));
        owners = Collections.unmodifiableMap(new TreeMap<>(owners));
        bound = Collections.unmodifiableSet(new TreeSet<>(bound));
    }

    /** The ipset entries of one set of one family (empty when none). */
    public Set<String> entries(IpFamily family, IpsetSpec set) {
        return ipsets.getOrDefault(family, Map.of()).getOrDefault(set, Set.of());
    }

    /**
     * @param nodeIPs the node's addresses that serve NodePorts (kube-ipvs0's excluded), canonical
     */
    public static DesiredState of(ProxyState state, IpvsSettings settings, List<String> nodeIPs) {
        Builder b = new Builder(settings, state.node(), nodeIPs);
        for (ServicePort svc : state.sortedServices().values()) {
            List<Endpoint> all = state.endpointsOf(svc.name());
            for (IpFamily family : IpFamily.values()) {
                if (svc.clusterIP(family) != null) {
                    b.add(familyView(svc, family), all.stream().filter(e -> e.family() == family).toList(), family);
                }
            }
        }
        return b.build();
    }

    /** The service port with external IPs, LB IPs and source ranges of one family only. */
    static ServicePort familyView(ServicePort svc, IpFamily family) {
        List<String> ext = svc.externalIPs().stream().filter(ip -> IpFamily.of(ip) == family).toList();
        List<String> lb = svc.loadBalancerIPs().stream().filter(ip -> IpFamily.of(ip) == family).toList();
        List<String> ranges = svc.loadBalancerSourceRanges().stream()
                .filter(c -> IpAddresses.familyOf(c) == family).toList();
        return new ServicePort(svc.name(), svc.type(), svc.clusterIPs(), svc.port(), svc.nodePort(), ext, lb, ranges,
                svc.affinityTimeoutSeconds(), svc.externalTrafficPolicy(), svc.internalTrafficPolicy(),
                svc.healthCheckNodePort(), svc.trafficDistribution());
    }

    // ipset entry text, exactly as `ipset save` prints it (so desired and actual compare as strings).
    static String ipPort(String ip, Protocol p, int port) {
        return ip + "," + p.lower() + ":" + port;
    }

    static String ipPortIp(String ip, Protocol p, int port, String ip2) {
        return ipPort(ip, p, port) + "," + ip2;
    }

    static String ipPortNet(String ip, Protocol p, int port, String cidr) {
        String c = IpAddresses.canonicalCidr(cidr);
        int slash = c.indexOf('/');
        int prefix = Integer.parseInt(c.substring(slash + 1));
        boolean host = prefix == (IpAddresses.familyOf(c) == IpFamily.IPv4 ? 32 : 128);
        return ipPort(ip, p, port) + "," + (host ? c.substring(0, slash) : c);
    }

    private static final class Builder {
        private final IpvsSettings settings;
        private final NodeInfo node;
        private final List<String> nodeIPs;
        private final Map<ServiceKey, VirtualServer> services = new LinkedHashMap<>();
        private final Map<ServiceKey, Map<String, RealServer>> destinations = new LinkedHashMap<>();
        private final Map<ServiceKey, ServicePortName> owners = new LinkedHashMap<>();
        private final Set<String> bound = new TreeSet<>();
        private final Map<IpFamily, Map<IpsetSpec, Set<String>>> ipsets = new EnumMap<>(IpFamily.class);
        private final Map<IpFamily, long[]> noLocal = new EnumMap<>(IpFamily.class);

        Builder(IpvsSettings settings, NodeInfo node, List<String> nodeIPs) {
            this.settings = settings;
            this.node = node;
            this.nodeIPs = List.copyOf(nodeIPs);
            for (IpFamily f : IpFamily.values()) {
                Map<IpsetSpec, Set<String>> m = new EnumMap<>(IpsetSpec.class);
                for (IpsetSpec s : IpsetSpec.values()) {
                    m.put(s, new TreeSet<>());
                }
                ipsets.put(f, m);
                noLocal.put(f, new long[2]);
            }
        }

        void add(ServicePort svc, List<Endpoint> endpoints, IpFamily family) {
            EndpointSelector.Selection sel = EndpointSelector.select(endpoints, svc, node, true);
            List<Endpoint> internal = svc.internalPolicyLocal() ? sel.localEndpoints() : sel.clusterEndpoints();
            List<Endpoint> external = svc.externalPolicyLocal() ? sel.localEndpoints() : sel.clusterEndpoints();
            if (svc.internalPolicyLocal() && sel.localEndpoints().isEmpty()) {
                noLocal.get(family)[0]++;
            }
            if (svc.externalPolicyLocal() && sel.localEndpoints().isEmpty()) {
                noLocal.get(family)[1]++;
            }
            Map<IpsetSpec, Set<String>> sets = ipsets.get(family);
            Protocol proto = svc.protocol();
            int port = svc.port();

            String clusterIP = svc.clusterIP(family);
            virtualServer(svc, new ServiceKey(proto, clusterIP, port), internal);
            bound.add(clusterIP);
            sets.get(IpsetSpec.CLUSTER_IP).add(ipPort(clusterIP, proto, port));

            for (String ip : svc.externalIPs()) {
                virtualServer(svc, new ServiceKey(proto, ip, port), external);
                bound.add(ip);
                sets.get(svc.externalPolicyLocal() ? IpsetSpec.EXTERNAL_IP_LOCAL : IpsetSpec.EXTERNAL_IP)
                        .add(ipPort(ip, proto, port));
            }
            if (svc.type() == ServiceType.LOAD_BALANCER) {
                for (String ip : svc.loadBalancerIPs()) {
                    virtualServer(svc, new ServiceKey(proto, ip, port), external);
                    bound.add(ip);
                    String entry = ipPort(ip, proto, port);
                    sets.get(IpsetSpec.LOAD_BALANCER).add(entry);
                    if (svc.externalPolicyLocal()) {
                        sets.get(IpsetSpec.LOAD_BALANCER_LOCAL).add(entry);
                    }
                    if (!svc.loadBalancerSourceRanges().isEmpty()) {
                        sets.get(IpsetSpec.LOAD_BALANCER_FW).add(entry);
                        boolean allowFromNode = false;
                        for (String cidr : svc.loadBalancerSourceRanges()) {
                            sets.get(IpsetSpec.LOAD_BALANCER_SOURCE_CIDR).add(ipPortNet(ip, proto, port, cidr));
                            for (String nodeIP : node.addresses(family)) {
                                allowFromNode |= IpAddresses.cidrContains(cidr, nodeIP);
                            }
                        }
                        // Nodes reach an LB IP locally (it is on kube-ipvs0), not through the LB: let them in.
                        if (allowFromNode) {
                            sets.get(IpsetSpec.LOAD_BALANCER_SOURCE_IP).add(ipPortIp(ip, proto, port, ip));
                        }
                    }
                }
                if (svc.externalTrafficPolicy() == TrafficPolicy.LOCAL && svc.healthCheckNodePort() != 0) {
                    sets.get(IpsetSpec.HEALTH_CHECK_NODE_PORT).add(Integer.toString(svc.healthCheckNodePort()));
                }
            }
            if (svc.nodePort() != 0) {
                List<String> ips = nodePortIPs(family);
                for (String ip : ips) {
                    virtualServer(svc, new ServiceKey(proto, ip, svc.nodePort()), external);
                }
                List<String> entries = new ArrayList<>();
                IpsetSpec set;
                IpsetSpec local;
                switch (proto) {
                    case TCP -> {
                        entries.add(Integer.toString(svc.nodePort()));
                        set = IpsetSpec.NODE_PORT_TCP;
                        local = IpsetSpec.NODE_PORT_LOCAL_TCP;
                    }
                    case UDP -> {
                        entries.add(Integer.toString(svc.nodePort()));
                        set = IpsetSpec.NODE_PORT_UDP;
                        local = IpsetSpec.NODE_PORT_LOCAL_UDP;
                    }
                    default -> {
                        for (String ip : ips) {
                            entries.add(ipPort(ip, proto, svc.nodePort()));
                        }
                        set = IpsetSpec.NODE_PORT_SCTP;
                        local = IpsetSpec.NODE_PORT_LOCAL_SCTP;
                    }
                }
                sets.get(set).addAll(entries);
                if (svc.externalPolicyLocal()) {
                    sets.get(local).addAll(entries);
                }
            }
            // Hairpin: a local endpoint reaching itself through the service must be masqueraded.
            for (Endpoint ep : sel.allReachable()) {
                if (ep.isLocal(node.name())) {
                    sets.get(IpsetSpec.LOOP_BACK).add(ipPortIp(ep.ip(), proto, ep.port(), ep.ip()));
                }
            }
        }

        private List<String> nodePortIPs(IpFamily family) {
            List<String> cidrs = settings.nodePortAddresses();
            List<String> out = new ArrayList<>();
            for (String ip : nodeIPs) {
                if (IpFamily.of(ip) != family) {
                    continue;
                }
                boolean match = cidrs.isEmpty();
                for (String c : cidrs) {
                    if ("primary".equals(c)) {
                        List<String> primary = node.addresses(family);
                        match |= !primary.isEmpty() && primary.get(0).equals(ip);
                    } else {
                        match |= IpAddresses.cidrContains(c, ip);
                    }
                }
                if (match) {
                    out.add(ip);
                }
            }
            return out;
        }

        private void virtualServer(ServicePort svc, ServiceKey key, List<Endpoint> endpoints) {
            ServicePortName previous = owners.putIfAbsent(key, svc.name());
            if (previous != null) {
                if (!previous.equals(svc.name())) {
                    log.warn("virtual service {} of {} is already taken by {}; keeping the first", key, svc.name(),
                            previous);
                }
                return;
            }
            services.put(key, VirtualServer.of(key, settings.scheduler(), svc.affinityTimeoutSeconds()));
            Map<String, RealServer> dests = new TreeMap<>();
            for (Endpoint ep : endpoints) {
                RealServer rs = RealServer.masq(ep.ip(), ep.port(), 1);
                dests.put(rs.hostPort(), rs);
            }
            destinations.put(key, dests);
        }

        DesiredState build() {
            for (String ip : bound) {
                ipsets.get(IpFamily.of(ip)).get(IpsetSpec.IPVS_IPS).add(ip);
            }
            Map<IpFamily, Map<IpsetSpec, Set<String>>> frozen = new EnumMap<>(IpFamily.class);
            ipsets.forEach((f, m) -> {
                Map<IpsetSpec, Set<String>> sets = new EnumMap<>(IpsetSpec.class);
                m.forEach((s, e) -> sets.put(s, Collections.unmodifiableSet(new TreeSet<>(e))));
                frozen.put(f, Collections.unmodifiableMap(sets));
            });
            return new DesiredState(services, destinations, owners, bound, Collections.unmodifiableMap(frozen), noLocal);
        }
    }
}
