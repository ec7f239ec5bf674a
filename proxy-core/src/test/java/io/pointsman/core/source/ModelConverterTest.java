package io.pointsman.core.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ModelConverterTest {
    private static final KubernetesSerialization SER = new KubernetesSerialization();

    private static Service svc(String specYaml) {
        return SER.unmarshal("apiVersion: v1\nkind: Service\nmetadata: {namespace: ns1, name: svc1}\n" + specYaml,
                Service.class);
    }

    private static EndpointSlice slice(String labels, String bodyYaml) {
        return SER.unmarshal("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                + "metadata: {namespace: ns1, name: svc1-abc, labels: {" + labels + "}}\n" + bodyYaml, EndpointSlice.class);
    }

    private static final String SVC_LABEL = "kubernetes.io/service-name: svc1";

    // ---------------------------------------------------------------------------- Service

    @Test
    void plainClusterIpServiceDefaultsProtocolAndName() {
        List<ServicePort> ports = ModelConverter.servicePorts(svc("""
                spec:
                  clusterIP: 172.30.0.41
                  ports:
                  - {port: 80}
                """));
        assertThat(ports).containsExactly(new ServicePort(new ServicePortName("ns1", "svc1", "", Protocol.TCP),
                ServiceType.CLUSTER_IP, List.of("172.30.0.41"), 80, 0, List.of(), List.of(), List.of(), 0,
                TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, ""));
    }

    static Stream<Arguments> skippedServices() {
        return Stream.of(
                Arguments.of("ExternalName", "spec: {type: ExternalName, externalName: example.com, ports: [{port: 80}]}"),
                Arguments.of("headless None", "spec: {clusterIP: None, ports: [{port: 80}]}"),
                Arguments.of("headless empty", "spec: {clusterIP: '', ports: [{port: 80}]}"),
                Arguments.of("no cluster IP at all", "spec: {ports: [{port: 80}]}"),
                Arguments.of("headless via clusterIPs", "spec: {clusterIPs: [None], ports: [{port: 80}]}"),
                Arguments.of("no ports", "spec: {clusterIP: 10.0.0.1}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("skippedServices")
    void servicesThatAreNotProxiedYieldNoPorts(String name, String spec) {
        assertThat(ModelConverter.servicePorts(svc(spec))).isEmpty();
    }

    @Test
    void everyFieldOfALoadBalancerService() {
        List<String> warnings = new ArrayList<>();
        List<ServicePort> ports = ModelConverter.servicePorts(svc("""
                spec:
                  type: LoadBalancer
                  clusterIP: "172.30.0.041"
                  clusterIPs: ["172.30.0.041", "FD00::0041"]
                  externalIPs: ["192.168.099.022", "not-an-ip", "192.168.99.22", "10.1.1.1"]
                  loadBalancerSourceRanges: [" 203.0.113.7/25 ", "bogus/99", "2001:db8::1/64"]
                  externalTrafficPolicy: Local
                  internalTrafficPolicy: Local
                  healthCheckNodePort: 30000
                  sessionAffinity: ClientIP
                  trafficDistribution: PreferClose
                  ports:
                  - {name: p80, port: 80, protocol: TCP, nodePort: 3001}
                  - {name: dns, port: 53, protocol: UDP, nodePort: 3002}
                status:
                  loadBalancer:
                    ingress:
                    - ip: "1.2.3.004"
                    - hostname: lb.example.com
                    - {ip: 5.6.7.8, ipMode: Proxy}
                    - {ip: 9.9.9.9, ipMode: VIP}
                    - ip: "1.2.3.4.5"
                """), warnings::add);
        assertThat(ports).hasSize(2);
        ServicePort p80 = ports.get(0);
        assertThat(p80.name()).isEqualTo(new ServicePortName("ns1", "svc1", "p80", Protocol.TCP));
        assertThat(p80.type()).isEqualTo(ServiceType.LOAD_BALANCER);
        assertThat(p80.clusterIPs()).containsExactly("172.30.0.41", "fd00::41");
        assertThat(p80.externalIPs()).containsExactly("192.168.99.22", "10.1.1.1");
        assertThat(p80.loadBalancerIPs()).containsExactly("1.2.3.4", "9.9.9.9");
        assertThat(p80.loadBalancerSourceRanges()).containsExactly("203.0.113.0/25", "2001:db8::/64");
        assertThat(p80.nodePort()).isEqualTo(3001);
        assertThat(p80.externalTrafficPolicy()).isEqualTo(TrafficPolicy.LOCAL);
        assertThat(p80.internalTrafficPolicy()).isEqualTo(TrafficPolicy.LOCAL);
        assertThat(p80.healthCheckNodePort()).isEqualTo(30000);
        assertThat(p80.affinityTimeoutSeconds()).isEqualTo(ModelConverter.DEFAULT_AFFINITY_TIMEOUT_SECONDS);
        assertThat(p80.trafficDistribution()).isEqualTo("PreferClose");
        assertThat(ports.get(1).name()).isEqualTo(new ServicePortName("ns1", "svc1", "dns", Protocol.UDP));
        assertThat(ports.get(1).port()).isEqualTo(53);
        assertThat(ports.get(1).nodePort()).isEqualTo(3002);
        assertThat(warnings).hasSize(3);
        assertThat(warnings.get(0)).contains("spec.externalIPs[1]", "not-an-ip", "expected", "ignored");
        assertThat(warnings.get(1)).contains("status.loadBalancer.ingress[4].ip", "1.2.3.4.5", "ignored");
        assertThat(warnings.get(2)).contains("spec.loadBalancerSourceRanges[1]", "bogus/99", "ignored");
    }

    @Test
    void nodePortAndLoadBalancerFieldsOnlyCountForTheirTypes() {
        ServicePort clusterIp = ModelConverter.servicePorts(svc("""
                spec:
                  clusterIP: 10.0.0.1
                  externalTrafficPolicy: Local
                  healthCheckNodePort: 30000
                  loadBalancerSourceRanges: [10.0.0.0/8]
                  ports: [{port: 80, nodePort: 30080}]
                status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
                """)).get(0);
        assertThat(clusterIp.nodePort()).isZero();
        assertThat(clusterIp.loadBalancerIPs()).isEmpty();
        assertThat(clusterIp.loadBalancerSourceRanges()).isEmpty();
        assertThat(clusterIp.healthCheckNodePort()).isZero();

        ServicePort nodePort = ModelConverter.servicePorts(svc("""
                spec:
                  type: NodePort
                  clusterIP: 10.0.0.1
                  externalTrafficPolicy: Local
                  healthCheckNodePort: 30000
                  ports: [{port: 80, nodePort: 30080}]
                status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
                """)).get(0);
        assertThat(nodePort.nodePort()).isEqualTo(30080);
        assertThat(nodePort.loadBalancerIPs()).isEmpty();
        assertThat(nodePort.healthCheckNodePort()).as("only LoadBalancer+Local needs a health check").isZero();

        ServicePort lbCluster = ModelConverter.servicePorts(svc("""
                spec:
                  type: LoadBalancer
                  clusterIP: 10.0.0.1
                  healthCheckNodePort: 30000
                  ports: [{port: 80, nodePort: 30080}]
                """)).get(0);
        assertThat(lbCluster.healthCheckNodePort()).isZero();
    }

    @Test
    void sessionAffinityTimeouts() {
        assertThat(ModelConverter.servicePorts(svc("""
                spec: {clusterIP: 10.0.0.1, sessionAffinity: ClientIP,
                       sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}, ports: [{port: 80}]}
                """)).get(0).affinityTimeoutSeconds()).isEqualTo(600);
        assertThat(ModelConverter.servicePorts(svc("""
                spec: {clusterIP: 10.0.0.1, sessionAffinity: None,
                       sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}, ports: [{port: 80}]}
                """)).get(0).affinityTimeoutSeconds()).isZero();
    }

    @Test
    void clusterIpWithoutClusterIpsAndIpv6Canonicalisation() {
        assertThat(ModelConverter.servicePorts(svc("spec: {clusterIP: '2001:DB8:0:0::0001', ports: [{port: 80}]}"))
                .get(0).clusterIPs()).containsExactly("2001:db8::1");
    }

    @Test
    void missingHealthCheckNodePortIsAWarningNotAnError() {
        List<String> warnings = new ArrayList<>();
        ServicePort p = ModelConverter.servicePorts(svc("""
                spec: {type: LoadBalancer, clusterIP: 10.0.0.1, externalTrafficPolicy: Local,
                       ports: [{port: 80, nodePort: 30080}]}
                """), warnings::add).get(0);
        assertThat(p.healthCheckNodePort()).isZero();
        assertThat(warnings).singleElement().asString().contains("spec.healthCheckNodePort", "missing");
    }

    static Stream<Arguments> malformedServices() {
        return Stream.of(
                Arguments.of("spec: {clusterIP: 10.0.0.300, ports: [{port: 80}]}",
                        "spec.clusterIP: \"10.0.0.300\" (expected: an IPv4 or IPv6 literal)"),
                Arguments.of("spec: {clusterIP: example.com, ports: [{port: 80}]}",
                        "spec.clusterIP: \"example.com\" (expected: an IPv4 or IPv6 literal)"),
                Arguments.of("spec: {clusterIPs: [10.0.0.1, 10.0.0.2], ports: [{port: 80}]}",
                        "spec.clusterIPs: [10.0.0.1, 10.0.0.2] (expected: at most one IPv4 and one IPv6 address)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, clusterIPs: [10.0.0.2], ports: [{port: 80}]}",
                        "differs from spec.clusterIPs[0]"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, ports: [{port: 0}]}",
                        "spec.ports[0].port: 0 (expected: 1-65535)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, ports: [{name: a, port: 80}, {name: b, port: 70000}]}",
                        "spec.ports[1].port: 70000 (expected: 1-65535)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, ports: [{name: a}]}",
                        "spec.ports[0].port: missing (expected: 1-65535)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, ports: [{port: 80, protocol: HTTP}]}",
                        "spec.ports[0].protocol: HTTP (expected: TCP, UDP or SCTP)"),
                Arguments.of("spec: {type: NodePort, clusterIP: 10.0.0.1, ports: [{port: 80, nodePort: 70000}]}",
                        "spec.ports[0].nodePort: 70000 (expected: 0-65535)"),
                Arguments.of("spec: {type: Bogus, clusterIP: 10.0.0.1, ports: [{port: 80}]}",
                        "spec.type: Bogus (expected: ClusterIP, NodePort, LoadBalancer or ExternalName)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, sessionAffinity: Sticky, ports: [{port: 80}]}",
                        "spec.sessionAffinity: Sticky (expected: None or ClientIP)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, sessionAffinity: ClientIP, "
                                + "sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, ports: [{port: 80}]}",
                        "spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 (expected: 1-86400)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, externalTrafficPolicy: Nowhere, ports: [{port: 80}]}",
                        "spec.externalTrafficPolicy: Nowhere (expected: Cluster or Local)"),
                Arguments.of("spec: {clusterIP: 10.0.0.1, ports: [{name: a, port: 80}, {name: a, port: 81}]}",
                        "spec.ports[1]: duplicate port name \"a\" with protocol TCP (expected: unique port names)"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("malformedServices")
    void malformedServicesNameTheObjectAndTheProblem(String spec, String problem) {
        assertThatThrownBy(() -> ModelConverter.servicePorts(svc(spec)))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessageStartingWith("Service ns1/svc1: ")
                .hasMessageContaining(problem);
    }

    @Test
    void serviceWithoutNamespaceIsMalformed() {
        Service s = SER.unmarshal("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: 10.0.0.1}",
                Service.class);
        assertThatThrownBy(() -> ModelConverter.servicePorts(s))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessage("Service x: metadata.namespace: missing (expected: the Service's namespace)");
    }

    // ---------------------------------------------------------------------- EndpointSlice

    private static final ServicePortName P = new ServicePortName("ns1", "svc1", "p", Protocol.TCP);

    static Stream<Arguments> conditions() {
        // conditions yaml, expected ready, serving, terminating
        return Stream.of(
                Arguments.of("{}", true, true, false),
                Arguments.of("{ready: false}", false, false, false),
                Arguments.of("{ready: true, serving: false}", true, false, false),
                Arguments.of("{ready: false, serving: true, terminating: true}", false, true, true),
                Arguments.of("{ready: false, terminating: true}", false, false, true),
                Arguments.of("{serving: true}", true, true, false));
    }

    @ParameterizedTest(name = "conditions {0}")
    @MethodSource("conditions")
    void endpointConditionsDefaults(String conditions, boolean ready, boolean serving, boolean terminating) {
        Map<ServicePortName, List<Endpoint>> eps = ModelConverter.endpoints(slice(SVC_LABEL, """
                addressType: IPv4
                ports: [{name: p, port: 8080}]
                endpoints:
                - addresses: [10.0.1.1]
                  conditions: %s
                """.formatted(conditions)));
        Endpoint ep = eps.get(P).get(0);
        assertThat(List.of(ep.ready(), ep.serving(), ep.terminating())).containsExactly(ready, serving, terminating);
    }

    @Test
    void endpointsCarryTopologyAndArePerPortSortedAndDeduplicated() {
        Map<ServicePortName, List<Endpoint>> eps = ModelConverter.endpoints(slice(SVC_LABEL, """
                addressType: IPv4
                ports:
                - {name: p, port: 8080, protocol: TCP}
                - {name: dns, port: 53, protocol: UDP}
                - {name: all}
                endpoints:
                - addresses: ["10.0.1.020", 10.0.9.9]
                  conditions: {ready: false}
                  nodeName: node-b
                  zone: zone-b
                - addresses: [10.0.1.3]
                  nodeName: node-a
                  zone: zone-a
                  hints: {forZones: [{name: zone-a}], forNodes: [{name: node-a}]}
                - addresses: [10.0.1.20]
                  conditions: {ready: true}
                """));
        assertThat(eps).containsOnlyKeys(P, new ServicePortName("ns1", "svc1", "dns", Protocol.UDP));
        List<Endpoint> p = eps.get(P);
        assertThat(p).extracting(Endpoint::hostPort).containsExactly("10.0.1.20:8080", "10.0.1.3:8080");
        assertThat(p.get(0).ready()).as("the ready duplicate wins").isTrue();
        assertThat(p.get(1)).isEqualTo(new Endpoint("10.0.1.3", 8080, true, true, false, "node-a", "zone-a",
                Set.of("zone-a"), Set.of("node-a")));
        assertThat(eps.get(new ServicePortName("ns1", "svc1", "dns", Protocol.UDP)))
                .extracting(Endpoint::hostPort).containsExactly("10.0.1.20:53", "10.0.1.3:53");
    }

    @Test
    void ipv6SliceIsCanonicalised() {
        Map<ServicePortName, List<Endpoint>> eps = ModelConverter.endpoints(slice(SVC_LABEL, """
                addressType: IPv6
                ports: [{name: p, port: 8080}]
                endpoints: [{addresses: ["2001:DB8:0::0001"]}]
                """));
        assertThat(eps.get(P)).extracting(Endpoint::ip).containsExactly("2001:db8::1");
    }

    @Test
    void slicesThatContributeNothing() {
        assertThat(ModelConverter.endpoints(slice(SVC_LABEL, """
                addressType: FQDN
                ports: [{name: p, port: 8080}]
                endpoints: [{addresses: [example.com]}]
                """))).isEmpty();
        assertThat(ModelConverter.endpoints(slice(SVC_LABEL + ", service.kubernetes.io/headless: ''", """
                addressType: IPv4
                ports: [{name: p, port: 8080}]
                endpoints: [{addresses: [10.0.0.1]}]
                """))).isEmpty();
        assertThat(ModelConverter.endpoints(slice(SVC_LABEL, """
                addressType: IPv4
                ports: [{name: p, port: 8080}]
                """))).containsExactly(Map.entry(P, List.of()));
    }

    static Stream<Arguments> malformedSlices() {
        return Stream.of(
                Arguments.of("", "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]",
                        "metadata.labels[kubernetes.io/service-name]: missing (expected: the name of the Service"),
                Arguments.of(SVC_LABEL, "addressType: IPv4\nports: [{name: p, port: 1}]\nendpoints: [{addresses: [10.0.0.256]}]",
                        "endpoints[0].addresses[0]: \"10.0.0.256\" (expected: an IPv4 or IPv6 literal)"),
                Arguments.of(SVC_LABEL, "addressType: IPv4\nports: [{name: p, port: 1}]\nendpoints: [{addresses: ['fd00::1']}]",
                        "endpoints[0].addresses[0]: \"fd00::1\" is IPv6 (expected: an IPv4 address"),
                Arguments.of(SVC_LABEL, "addressType: IPv4\nports: [{name: p, port: 1}]\nendpoints: [{addresses: []}]",
                        "endpoints[0].addresses: empty (expected: at least one address)"),
                Arguments.of(SVC_LABEL, "addressType: IPv4\nports: [{name: p, port: 0}]",
                        "ports[0].port: 0 (expected: 1-65535)"),
                Arguments.of(SVC_LABEL, "addressType: IPv4\nports: [{name: p, port: 65536}]",
                        "ports[0].port: 65536 (expected: 1-65535)"),
                Arguments.of(SVC_LABEL, "addressType: IPv4\nports: [{name: p, port: 1, protocol: ICMP}]",
                        "ports[0].protocol: ICMP (expected: TCP, UDP or SCTP)"),
                Arguments.of(SVC_LABEL, "ports: [{name: p, port: 1}]",
                        "addressType: missing (expected: IPv4, IPv6 or FQDN)"),
                Arguments.of(SVC_LABEL, "addressType: IPv5\nports: [{name: p, port: 1}]",
                        "addressType: IPv5 (expected: IPv4, IPv6 or FQDN)"));
    }

    @ParameterizedTest(name = "{2}")
    @MethodSource("malformedSlices")
    void malformedSlicesNameTheObjectAndTheProblem(String labels, String body, String problem) {
        assertThatThrownBy(() -> ModelConverter.endpoints(slice(labels, body)))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessageStartingWith("EndpointSlice ns1/svc1-abc: ")
                .hasMessageContaining(problem);
    }

    // ------------------------------------------------------------------------------- Node

    @Test
    void nodeInfoOrdersAddressesAndDropsBadOnes() {
        List<String> warnings = new ArrayList<>();
        NodeInfo info = ModelConverter.nodeInfo(SER.unmarshal("""
                apiVersion: v1
                kind: Node
                metadata: {name: node-a, labels: {topology.kubernetes.io/zone: zone-a}}
                spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24, "fd00:244::/64"]}
                status:
                  addresses:
                  - {type: Hostname, address: node-a}
                  - {type: ExternalIP, address: "203.0.113.010"}
                  - {type: InternalIP, address: 192.0.2.10}
                  - {type: InternalIP, address: nonsense}
                """, Node.class), warnings::add);
        assertThat(info).isEqualTo(new NodeInfo("node-a", Map.of("topology.kubernetes.io/zone", "zone-a"),
                List.of("192.0.2.10", "203.0.113.10"), List.of("10.244.0.0/24", "fd00:244::/64")));
        assertThat(info.zone()).isEqualTo("zone-a");
        assertThat(warnings).singleElement().asString().contains("status.addresses[3].address", "nonsense");
    }

    @Test
    void nodeWithoutNameIsMalformed() {
        assertThatThrownBy(() -> ModelConverter.nodeInfo(SER.unmarshal("apiVersion: v1\nkind: Node\nmetadata: {}",
                Node.class)))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessage("Node <unnamed>: metadata.name: missing (expected: the Node's name)");
    }
}
