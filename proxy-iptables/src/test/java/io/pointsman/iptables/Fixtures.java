package io.pointsman.iptables;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Hand-built states and settings mirroring upstream's fake proxier (shared/conformance/iptables/upstream/README.md). */
final class Fixtures {
    static final String NODE = "test-node";

    private Fixtures() {
    }

    /** Upstream's test proxier: cluster CIDR 10.0.0.0/8, mark bit 14, localhost NodePorts on. */
    static ProxyConfig config() {
        ProxyConfig.Builder b = ProxyConfig.defaults().toBuilder();
        b.hostnameOverride = NODE;
        b.clusterCIDRs = List.of("10.0.0.0/8");
        b.detectLocalMode = "ClusterCIDR";
        return b.build();
    }

    static RenderOptions options(ProxyConfig config, Set<String> features) {
        return RenderOptions.from(config, features, IpFamily.IPv4);
    }

    /** Upstream's settings with the nfacct counters present, as the goldens assume. */
    static RenderOptions upstreamOptions() {
        return options(config(), Set.of("nfacct"));
    }

    static NodeInfo node(String... addresses) {
        return new NodeInfo(NODE, Map.of(), List.of(addresses), List.of());
    }

    static ServicePortName name(String ns, String svc, String port) {
        return new ServicePortName(ns, svc, port, Protocol.TCP);
    }

    static Endpoint ep(String ip, int port) {
        return Endpoint.ready(ip, port, "");
    }

    static Endpoint localEp(String ip, int port) {
        return Endpoint.ready(ip, port, NODE);
    }

    /** A mutable service-port description; {@link #build()} makes the record. */
    static final class Svc {
        ServicePortName name;
        ServiceType type = ServiceType.CLUSTER_IP;
        List<String> clusterIPs = new ArrayList<>();
        int port = 80;
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

        Svc type(ServiceType t) {
            type = t;
            return this;
        }

        Svc nodePort(int p) {
            nodePort = p;
            return this;
        }

        Svc externalIPs(String... ips) {
            externalIPs.addAll(List.of(ips));
            return this;
        }

        Svc lb(String... ips) {
            lbIPs.addAll(List.of(ips));
            return this;
        }

        Svc ranges(String... cidrs) {
            ranges.addAll(List.of(cidrs));
            return this;
        }

        Svc affinity(int seconds) {
            affinity = seconds;
            return this;
        }

        Svc etp(TrafficPolicy p) {
            etp = p;
            return this;
        }

        Svc itp(TrafficPolicy p) {
            itp = p;
            return this;
        }

        Svc hcnp(int p) {
            hcnp = p;
            return this;
        }

        Svc clusterIPs(String... ips) {
            clusterIPs = new ArrayList<>(List.of(ips));
            return this;
        }

        ServicePort build() {
            return new ServicePort(name, type, clusterIPs, port, nodePort, externalIPs, lbIPs, ranges, affinity, etp,
                    itp, hcnp, "");
        }
    }

    static Svc svc(String ns, String name, String port, String clusterIP, int servicePort) {
        return new Svc(name(ns, name, port), clusterIP, servicePort);
    }

    /** Builds a state from services and their endpoints (sorted, as the model promises). */
    static final class State {
        final NodeInfo node;
        final Map<ServicePortName, ServicePort> services = new HashMap<>();
        final Map<ServicePortName, List<Endpoint>> endpoints = new HashMap<>();

        State(NodeInfo node) {
            this.node = node;
        }

        State add(ServicePort svc, Endpoint... eps) {
            services.put(svc.name(), svc);
            if (eps.length > 0) {
                List<Endpoint> list = new ArrayList<>(List.of(eps));
                list.sort(null);
                endpoints.put(svc.name(), list);
            } else {
                endpoints.remove(svc.name());
            }
            return this;
        }

        State add(Svc svc, Endpoint... eps) {
            return add(svc.build(), eps);
        }

        State remove(ServicePortName name) {
            services.remove(name);
            endpoints.remove(name);
            return this;
        }

        ProxyState build() {
            return new ProxyState(node, services, endpoints);
        }
    }

    /** cases/01-overall (upstream TestOverallIPTablesRules) as a hand-built state. */
    static ProxyState overall() {
        return new State(node("192.168.0.2"))
                .add(svc("ns1", "svc1", "p80", "172.30.0.41", 80), ep("10.180.0.1", 80))
                .add(svc("ns2", "svc2", "p80", "172.30.0.42", 80).type(ServiceType.LOAD_BALANCER)
                        .etp(TrafficPolicy.LOCAL).externalIPs("192.168.99.22").hcnp(30000).nodePort(3001)
                        .lb("1.2.3.4"), ep("10.180.0.2", 80))
                .add(svc("ns3", "svc3", "p80", "172.30.0.43", 80).type(ServiceType.NODE_PORT).nodePort(3003),
                        ep("10.180.0.3", 80))
                .add(svc("ns4", "svc4", "p80", "172.30.0.44", 80).type(ServiceType.NODE_PORT)
                        .externalIPs("192.168.99.33"), ep("10.180.0.4", 80), localEp("10.180.0.5", 80))
                .add(svc("ns5", "svc5", "p80", "172.30.0.45", 80).type(ServiceType.LOAD_BALANCER).hcnp(30000)
                        .ranges("203.0.113.0/25").affinity(10800).nodePort(3002).lb("5.6.7.8"), ep("10.180.0.3", 80))
                .add(svc("ns6", "svc6", "p80", "172.30.0.46", 80))
                .build();
    }

    /** The directory shared/conformance/iptables, beside the project (../shared). */
    static Path conformanceDir() {
        Path dir = Path.of("").toAbsolutePath();
        for (int i = 0; i < 4 && dir != null; i++, dir = dir.getParent()) {
            Path c = dir.resolve("shared/conformance/iptables");
            if (Files.isDirectory(c)) {
                return c;
            }
            Path sibling = dir.resolveSibling("shared").resolve("conformance/iptables");
            if (Files.isDirectory(sibling)) {
                return sibling;
            }
        }
        throw new IllegalStateException("shared/conformance/iptables not found above " + Path.of("").toAbsolutePath()
                + " (expected: ../shared beside the project, as every checkout and CI run has it)");
    }

    static String conformance(String relative) {
        try {
            return Files.readString(conformanceDir().resolve(relative));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read conformance file " + relative + ": " + e.getMessage(), e);
        }
    }
}
