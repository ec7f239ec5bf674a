package io.pointsman.nftables;

import io.pointsman.core.config.ProxyConfig;
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
import java.util.List;
import java.util.Map;

/** Hand-built states: the six Services of upstream's TestOverallNFTablesRules, and builders. */
final class Fixtures {
    static final String NODE = "test-node";
    static final String NODE_IP = "192.168.0.2";

    private Fixtures() {
    }

    /** Upstream's test proxier: cluster CIDR 10.0.0.0/8, mark bit 14. */
    static ProxyConfig config() {
        ProxyConfig.Builder b = ProxyConfig.defaults().toBuilder();
        b.mode = "nftables";
        b.hostnameOverride = NODE;
        b.clusterCIDRs = List.of("10.0.0.0/8");
        b.detectLocalMode = "ClusterCIDR";
        return b.build();
    }

    static ProxyConfig config(java.util.function.Consumer<ProxyConfig.Builder> change) {
        ProxyConfig.Builder b = config().toBuilder();
        change.accept(b);
        return b.build();
    }

    static NodeInfo node() {
        return new NodeInfo(NODE, Map.of(), List.of(NODE_IP), List.of("10.0.1.0/24"));
    }

    static ServicePortName name(String ns, String svc, String port) {
        return new ServicePortName(ns, svc, port, Protocol.TCP);
    }

    static ServicePortName name(String ns, String svc, String port, Protocol protocol) {
        return new ServicePortName(ns, svc, port, protocol);
    }

    static Endpoint ep(String ip, int port) {
        return Endpoint.ready(ip, port, "other-node");
    }

    static Endpoint localEp(String ip, int port) {
        return Endpoint.ready(ip, port, NODE);
    }

    static Endpoint terminating(String ip, int port, String node) {
        return new Endpoint(ip, port, false, true, true, node, "", java.util.Set.of(), java.util.Set.of());
    }

    /** A mutable service-port description; {@link #build()} makes the record. */
    static final class Svc {
        ServicePortName name;
        ServiceType type = ServiceType.CLUSTER_IP;
        List<String> clusterIPs = new ArrayList<>();
        int port;
        int nodePort;
        List<String> externalIPs = new ArrayList<>();
        List<String> lbIPs = new ArrayList<>();
        List<String> ranges = new ArrayList<>();
        int affinity;
        TrafficPolicy etp = TrafficPolicy.CLUSTER;
        TrafficPolicy itp = TrafficPolicy.CLUSTER;
        int hcnp;

        Svc(ServicePortName name, String clusterIP, int port) {
            this.name = name;
            this.clusterIPs.add(clusterIP);
            this.port = port;
        }

        ServicePort build() {
            return new ServicePort(name, type, clusterIPs, port, nodePort, externalIPs, lbIPs, ranges, affinity, etp,
                    itp, hcnp, "");
        }
    }

    /** A state under construction. */
    static final class StateBuilder {
        NodeInfo node = node();
        final Map<ServicePortName, ServicePort> services = new HashMap<>();
        final Map<ServicePortName, List<Endpoint>> endpoints = new HashMap<>();

        StateBuilder add(Svc svc, Endpoint... eps) {
            ServicePort sp = svc.build();
            services.put(sp.name(), sp);
            List<Endpoint> list = new ArrayList<>(List.of(eps));
            list.sort(null);
            if (!list.isEmpty()) {
                endpoints.put(sp.name(), list);
            } else {
                endpoints.remove(sp.name());
            }
            return this;
        }

        StateBuilder remove(ServicePortName name) {
            services.remove(name);
            endpoints.remove(name);
            return this;
        }

        ProxyState build() {
            return new ProxyState(node, services, endpoints);
        }
    }

    /** The six Services of upstream's TestOverallNFTablesRules (shared/conformance/nftables/upstream). */
    static ProxyState upstreamOverall() {
        StateBuilder s = new StateBuilder();
        s.add(new Svc(name("ns1", "svc1", "p80"), "172.30.0.41", 80), ep("10.180.0.1", 80));

        Svc svc2 = new Svc(name("ns2", "svc2", "p80"), "172.30.0.42", 80);
        svc2.type = ServiceType.LOAD_BALANCER;
        svc2.nodePort = 3001;
        svc2.lbIPs.add("1.2.3.4");
        svc2.externalIPs.add("192.168.99.22");
        svc2.etp = TrafficPolicy.LOCAL;
        svc2.hcnp = 30000;
        s.add(svc2, ep("10.180.0.2", 80));

        Svc svc3 = new Svc(name("ns3", "svc3", "p80"), "172.30.0.43", 80);
        svc3.type = ServiceType.NODE_PORT;
        svc3.nodePort = 3003;
        s.add(svc3, ep("10.180.0.3", 80));

        Svc svc4 = new Svc(name("ns4", "svc4", "p80"), "172.30.0.44", 80);
        svc4.type = ServiceType.NODE_PORT;
        svc4.externalIPs.add("192.168.99.33");
        s.add(svc4, ep("10.180.0.4", 80), localEp("10.180.0.5", 80));

        Svc svc5 = new Svc(name("ns5", "svc5", "p80"), "172.30.0.45", 80);
        svc5.type = ServiceType.LOAD_BALANCER;
        svc5.nodePort = 3002;
        svc5.lbIPs.add("5.6.7.8");
        svc5.hcnp = 30000;
        svc5.ranges.add("203.0.113.0/25");
        svc5.affinity = 10800;
        s.add(svc5, ep("10.180.0.3", 80));

        s.add(new Svc(name("ns6", "svc6", "p80"), "172.30.0.46", 80));
        return s.build();
    }
}
