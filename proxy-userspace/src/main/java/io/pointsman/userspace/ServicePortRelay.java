package io.pointsman.userspace;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.topology.EndpointSelector;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything the relay does for one service port: the endpoints of cluster and external traffic,
 * and the listeners (relay ports for the portal rules, node ports bound directly). Changed by the
 * reconciler thread only; the event loops read the pools.
 */
final class ServicePortRelay {
    private final ServicePortName name;
    private final EndpointPool cluster;
    private final EndpointPool external;
    private final RelayRuntime runtime;
    private final Map<Listener.Spec, Listener> listeners = new LinkedHashMap<>();
    private ServicePort service;

    ServicePortRelay(ServicePortName name, RelayRuntime runtime) {
        this.name = name;
        this.runtime = runtime;
        this.cluster = new EndpointPool(name, "cluster");
        this.external = new EndpointPool(name, "external");
    }

    ServicePortName name() {
        return name;
    }

    EndpointPool cluster() {
        return cluster;
    }

    EndpointPool external() {
        return external;
    }

    /**
     * Applies the service port and its endpoints: the pools change at once (new connections use
     * them, established ones are left alone, UDP sessions to removed endpoints end), then the
     * listeners are brought to what the service port needs.
     *
     * @param families the IP families this node serves
     * @param nodePortAddresses where node ports are bound (wildcards or node addresses)
     * @return binds started by this call (relay ports must be bound before the portal rules name them)
     */
    List<Future<List<Channel>>> apply(ServicePort svc, List<Endpoint> endpoints, NodeInfo node, Set<IpFamily> families,
                              List<InetAddress> nodePortAddresses) {
        this.service = svc;
        Set<InetSocketAddress> live = new HashSet<>();
        for (IpFamily family : IpFamily.values()) {
            boolean served = families.contains(family) && svc.clusterIP(family) != null;
            List<Endpoint> ofFamily = served
                    ? endpoints.stream().filter(e -> e.family() == family).toList() : List.of();
            EndpointSelector.Selection sel = EndpointSelector.select(ofFamily, svc, node, true);
            List<InetSocketAddress> internal = addresses(svc.internalPolicyLocal() ? sel.localEndpoints()
                    : sel.clusterEndpoints());
            List<InetSocketAddress> externalEps = addresses(svc.externalPolicyLocal() ? sel.localEndpoints()
                    : sel.clusterEndpoints());
            cluster.balancer(family).update(internal, svc.affinityTimeoutSeconds());
            external.balancer(family).update(externalEps, svc.affinityTimeoutSeconds());
            live.addAll(internal);
            live.addAll(externalEps);
        }

        Map<Listener.Spec, EndpointPool> wanted = wantedListeners(svc, families, nodePortAddresses);
        List<Future<List<Channel>>> started = new ArrayList<>();
        listeners.entrySet().removeIf(e -> {
            if (!wanted.containsKey(e.getKey())) {
                e.getValue().close();
                return true;
            }
            return false;
        });
        for (Map.Entry<Listener.Spec, EndpointPool> w : wanted.entrySet()) {
            if (!listeners.containsKey(w.getKey())) {
                Listener l = new Listener(w.getKey(), w.getValue(), runtime);
                listeners.put(w.getKey(), l);
                started.add(l.bind());
            }
        }
        for (Listener l : listeners.values()) {
            l.retainEndpoints(live);
        }
        return started;
    }

    private Map<Listener.Spec, EndpointPool> wantedListeners(ServicePort svc, Set<IpFamily> families,
                                                             List<InetAddress> nodePortAddresses) {
        Map<Listener.Spec, EndpointPool> wanted = new LinkedHashMap<>();
        for (IpFamily family : families) {
            if (svc.clusterIP(family) == null) {
                continue;
            }
            wanted.put(new Listener.Spec(Listener.Role.CLUSTER, svc.protocol(), wildcard(family, 0)), cluster);
            if (!externalAddresses(svc, family).isEmpty()) {
                wanted.put(new Listener.Spec(Listener.Role.EXTERNAL, svc.protocol(), wildcard(family, 0)), external);
            }
        }
        if (svc.nodePort() != 0) {
            for (InetAddress a : nodePortAddresses) {
                wanted.put(new Listener.Spec(Listener.Role.NODE_PORT, svc.protocol(),
                        new InetSocketAddress(a, svc.nodePort())), external);
            }
        }
        return wanted;
    }

    /** The portal rules of this service port for {@code family}: its addresses and the relay port serving each. */
    List<PortalRules.Portal> portals(IpFamily family) {
        ServicePort svc = service;
        List<PortalRules.Portal> out = new ArrayList<>();
        if (svc == null || svc.clusterIP(family) == null) {
            return out;
        }
        int clusterPort = relayPort(Listener.Role.CLUSTER, family);
        if (clusterPort > 0) {
            out.add(new PortalRules.Portal(name, svc.protocol(), svc.clusterIP(family), svc.port(), clusterPort, List.of()));
        }
        int externalPort = relayPort(Listener.Role.EXTERNAL, family);
        if (externalPort > 0) {
            for (String ip : svc.externalIPs()) {
                if (IpFamily.of(ip) == family) {
                    out.add(new PortalRules.Portal(name, svc.protocol(), ip, svc.port(), externalPort, List.of()));
                }
            }
            List<String> ranges = svc.loadBalancerSourceRanges().stream().filter(r -> IpFamily.of(r) == family).toList();
            for (String ip : svc.loadBalancerIPs()) {
                if (IpFamily.of(ip) == family) {
                    out.add(new PortalRules.Portal(name, svc.protocol(), ip, svc.port(), externalPort, ranges));
                }
            }
        }
        return out;
    }

    /** The bound port of a relay listener of {@code role} and {@code family}, -1 when none is bound. */
    int relayPort(Listener.Role role, IpFamily family) {
        Listener l = listeners.get(new Listener.Spec(role, name.protocol(), wildcard(family, 0)));
        return l == null ? -1 : l.port();
    }

    /** Listeners that are not bound (yet): relay ports missing from the rules, node ports being retried. */
    List<Listener.Spec> unbound() {
        return listeners.values().stream().filter(l -> !l.isBound()).map(Listener::spec).toList();
    }

    int listenerCount() {
        return listeners.size();
    }

    /** Drops the relay listeners that did not bind, so the next sync binds them again. */
    void forgetUnboundRelays() {
        listeners.values().removeIf(l -> {
            if (l.spec().role() != Listener.Role.NODE_PORT && !l.isBound()) {
                l.close();
                return true;
            }
            return false;
        });
    }

    /** The service port is gone: its listeners close (established TCP connections are left to end). */
    void close() {
        listeners.values().forEach(Listener::close);
        listeners.clear();
        for (IpFamily f : IpFamily.values()) {
            cluster.balancer(f).update(List.of(), 0);
            external.balancer(f).update(List.of(), 0);
        }
    }

    /** Forgets expired ClientIP affinity entries. */
    void expireAffinity() {
        for (IpFamily f : IpFamily.values()) {
            cluster.balancer(f).expireAffinity();
            external.balancer(f).expireAffinity();
        }
    }

    private static List<String> externalAddresses(ServicePort svc, IpFamily family) {
        List<String> out = new ArrayList<>();
        for (String ip : svc.externalIPs()) {
            if (IpFamily.of(ip) == family) {
                out.add(ip);
            }
        }
        for (String ip : svc.loadBalancerIPs()) {
            if (IpFamily.of(ip) == family) {
                out.add(ip);
            }
        }
        return out;
    }

    static InetSocketAddress wildcard(IpFamily family, int port) {
        return new InetSocketAddress(family == IpFamily.IPv4 ? NodePortAddresses.ANY_V4 : NodePortAddresses.ANY_V6, port);
    }

    private static List<InetSocketAddress> addresses(List<Endpoint> endpoints) {
        List<InetSocketAddress> out = new ArrayList<>(endpoints.size());
        for (Endpoint e : endpoints) {
            out.add(new InetSocketAddress(NodePortAddresses.literal(e.ip()), e.port()));
        }
        return out;
    }
}
