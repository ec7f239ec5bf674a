package io.pointsman.nftables;

import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Random states and random changes between them, from a seed: Services of every type and policy,
 * with affinity, source ranges, both families, endpoints that come, go, turn terminating or move.
 */
final class RandomStates {
    private final Random random;
    private final boolean dualStack;
    private final Map<ServicePortName, ServicePort> services = new HashMap<>();
    private final Map<ServicePortName, List<Endpoint>> endpoints = new HashMap<>();
    private NodeInfo node = Fixtures.node();
    private int serial;

    RandomStates(long seed, boolean dualStack) {
        this.random = new Random(seed);
        this.dualStack = dualStack;
    }

    ProxyState state() {
        return new ProxyState(node, services, endpoints);
    }

    /** A state of {@code n} random service ports. */
    ProxyState initial(int n) {
        for (int i = 0; i < n; i++) {
            addService();
        }
        return state();
    }

    /** One random change; answers what changed. */
    ChangeSet step() {
        int what = random.nextInt(100);
        List<ServicePortName> names = new ArrayList<>(services.keySet());
        names.sort(null);
        if (what < 15 || names.isEmpty()) {
            return new ChangeSet(Set.of(addService()), false);
        }
        ServicePortName pick = names.get(random.nextInt(names.size()));
        if (what < 25) {
            services.remove(pick);
            endpoints.remove(pick);
            return new ChangeSet(Set.of(pick), false);
        }
        if (what < 70) {
            endpoints(pick, services.get(pick));
            return new ChangeSet(Set.of(pick), false);
        }
        if (what < 95) {
            // Same name, new shape (type, policies, affinity, addresses); endpoints kept.
            ServicePort old = services.get(pick);
            services.put(pick, service(pick, old.clusterIPs()));
            return new ChangeSet(Set.of(pick), false);
        }
        // The node changes: zone, addresses.
        node = new NodeInfo(node.name(), random.nextBoolean() ? Map.of(NodeInfo.ZONE_LABEL, "zone-a")
                : Map.of(NodeInfo.ZONE_LABEL, "zone-b"), random.nextBoolean() ? List.of(Fixtures.NODE_IP)
                : List.of("192.168.0.3"), node.podCIDRs());
        return new ChangeSet(Set.of(), true);
    }

    private ServicePortName addService() {
        int id = serial++;
        Protocol p = Protocol.values()[random.nextInt(3)];
        ServicePortName name = new ServicePortName("ns" + random.nextInt(3), "svc" + id, "p" + id, p);
        List<String> ips = new ArrayList<>();
        ips.add("10.96." + (id / 250) + "." + (id % 250 + 1));
        if (dualStack && random.nextInt(3) == 0) {
            ips.add("fd00:96::" + Integer.toHexString(id + 1));
        }
        ServicePort svc = service(name, ips);
        services.put(name, svc);
        endpoints(name, svc);
        return name;
    }

    private ServicePort service(ServicePortName name, List<String> clusterIPs) {
        ServiceType type = ServiceType.values()[random.nextInt(3)];
        int id = Integer.parseInt(name.name().substring(3));
        int nodePort = type == ServiceType.CLUSTER_IP ? 0 : 30000 + id;
        List<String> external = new ArrayList<>();
        if (random.nextInt(4) == 0) {
            external.add("192.0.2." + (id % 250 + 1));
        }
        List<String> lb = new ArrayList<>();
        List<String> ranges = new ArrayList<>();
        if (type == ServiceType.LOAD_BALANCER) {
            lb.add("198.51.100." + (id % 250 + 1));
            if (clusterIPs.size() > 1) {
                lb.add("2001:db8::" + Integer.toHexString(id + 1));
            }
            if (random.nextBoolean()) {
                ranges.add("203.0." + random.nextInt(4) + ".0/24");
                if (random.nextBoolean()) {
                    ranges.add("192.168.0.0/16");
                }
            }
        }
        int affinity = random.nextInt(4) == 0 ? (random.nextBoolean() ? 10800 : 60) : 0;
        TrafficPolicy etp = random.nextInt(3) == 0 ? TrafficPolicy.LOCAL : TrafficPolicy.CLUSTER;
        TrafficPolicy itp = random.nextInt(5) == 0 ? TrafficPolicy.LOCAL : TrafficPolicy.CLUSTER;
        int hcnp = type == ServiceType.LOAD_BALANCER && etp == TrafficPolicy.LOCAL ? 32000 + id : 0;
        return new ServicePort(name, type, clusterIPs, 80 + random.nextInt(3), nodePort, external, lb, ranges, affinity,
                etp, itp, hcnp, "");
    }

    private void endpoints(ServicePortName name, ServicePort svc) {
        int n = random.nextInt(5);
        Set<String> seen = new HashSet<>();
        List<Endpoint> eps = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            boolean v6 = svc.clusterIPs().size() > 1 && random.nextBoolean();
            int host = random.nextInt(12) + 1;
            String ip = v6 ? "fd00:10::" + Integer.toHexString(host) : "10.1.0." + host;
            if (!seen.add(ip)) {
                continue;
            }
            String nodeName = switch (random.nextInt(3)) {
                case 0 -> Fixtures.NODE;
                case 1 -> "other-node";
                default -> "";
            };
            boolean ready = random.nextInt(5) != 0;
            String zone = random.nextBoolean() ? "zone-a" : "zone-b";
            Set<String> hints = random.nextInt(3) == 0 ? Set.of(zone) : Set.of();
            eps.add(new Endpoint(ip, 8080 + random.nextInt(2), ready, true, !ready, nodeName, zone, hints, Set.of()));
        }
        eps.sort(null);
        if (eps.isEmpty()) {
            endpoints.remove(name);
        } else {
            endpoints.put(name, eps);
        }
    }
}
