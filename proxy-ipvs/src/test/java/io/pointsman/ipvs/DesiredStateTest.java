package io.pointsman.ipvs;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.ipvs.kernel.ServiceKey;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DesiredStateTest {
    static final NodeInfo NODE = new NodeInfo("n1", Map.of(), List.of("192.168.0.2", "fd00:1::2"), List.of());
    static final List<String> NODE_IPS = List.of("192.168.0.2", "192.168.1.2", "fd00:1::2");

    static ServicePortName name(String n, Protocol p) {
        return new ServicePortName("ns", n, "p", p);
    }

    static Endpoint ep(String ip, String node) {
        return Endpoint.ready(ip, 8080, node);
    }

    static Endpoint terminating(String ip, String node) {
        return new Endpoint(ip, 8080, false, true, true, node, "", Set.of(), Set.of());
    }

    static String text(DesiredState d) {
        return IpvsText.render(d.services(), d.destinations().entrySet().stream().collect(
                java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> e.getValue().values())));
    }

    @Test
    void loadBalancerWithLocalPolicySourceRangesAndAffinity() {
        ServicePortName lb = name("lb", Protocol.TCP);
        ServicePort svc = new ServicePort(lb, ServiceType.LOAD_BALANCER, List.of("10.96.0.5"), 443, 31443,
                List.of("203.0.113.9"), List.of("198.51.100.7"), List.of("192.168.0.0/16", "10.1.2.3/32"), 300,
                TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER, 32000, "");
        ProxyState s = new ProxyState(NODE, Map.of(lb, svc),
                Map.of(lb, List.of(ep("10.244.1.5", "n1"), ep("10.244.2.7", "n2"))));
        DesiredState d = DesiredState.of(s, PlannerTest.SETTINGS, NODE_IPS);
        // Cluster IP: internal policy Cluster, both endpoints; external addresses: this node's endpoint only.
        assertThat(text(d)).isEqualTo(String.join("\n",
                "-A -t 10.96.0.5:443 -s rr -p 300",
                "-a -t 10.96.0.5:443 -r 10.244.1.5:8080 -m -w 1",
                "-a -t 10.96.0.5:443 -r 10.244.2.7:8080 -m -w 1",
                "-A -t 192.168.0.2:31443 -s rr -p 300",
                "-a -t 192.168.0.2:31443 -r 10.244.1.5:8080 -m -w 1",
                "-A -t 192.168.1.2:31443 -s rr -p 300",
                "-a -t 192.168.1.2:31443 -r 10.244.1.5:8080 -m -w 1",
                "-A -t 198.51.100.7:443 -s rr -p 300",
                "-a -t 198.51.100.7:443 -r 10.244.1.5:8080 -m -w 1",
                "-A -t 203.0.113.9:443 -s rr -p 300",
                "-a -t 203.0.113.9:443 -r 10.244.1.5:8080 -m -w 1", ""));
        assertThat(d.bound()).containsExactly("10.96.0.5", "198.51.100.7", "203.0.113.9");
        IpFamily v4 = IpFamily.IPv4;
        assertThat(d.entries(v4, IpsetSpec.CLUSTER_IP)).containsExactly("10.96.0.5,tcp:443");
        assertThat(d.entries(v4, IpsetSpec.EXTERNAL_IP_LOCAL)).containsExactly("203.0.113.9,tcp:443");
        assertThat(d.entries(v4, IpsetSpec.EXTERNAL_IP)).isEmpty();
        assertThat(d.entries(v4, IpsetSpec.LOAD_BALANCER)).containsExactly("198.51.100.7,tcp:443");
        assertThat(d.entries(v4, IpsetSpec.LOAD_BALANCER_LOCAL)).containsExactly("198.51.100.7,tcp:443");
        assertThat(d.entries(v4, IpsetSpec.LOAD_BALANCER_FW)).containsExactly("198.51.100.7,tcp:443");
        // A /32 source range is listed as a plain address, as `ipset save` prints it.
        assertThat(d.entries(v4, IpsetSpec.LOAD_BALANCER_SOURCE_CIDR)).containsExactly(
                "198.51.100.7,tcp:443,10.1.2.3", "198.51.100.7,tcp:443,192.168.0.0/16");
        // A range containing the node's own IP lets the node reach the LB IP itself.
        assertThat(d.entries(v4, IpsetSpec.LOAD_BALANCER_SOURCE_IP)).containsExactly(
                "198.51.100.7,tcp:443,198.51.100.7");
        assertThat(d.entries(v4, IpsetSpec.NODE_PORT_TCP)).containsExactly("31443");
        assertThat(d.entries(v4, IpsetSpec.NODE_PORT_LOCAL_TCP)).containsExactly("31443");
        assertThat(d.entries(v4, IpsetSpec.HEALTH_CHECK_NODE_PORT)).containsExactly("32000");
        assertThat(d.entries(v4, IpsetSpec.LOOP_BACK)).containsExactly("10.244.1.5,tcp:8080,10.244.1.5");
        assertThat(d.entries(v4, IpsetSpec.IPVS_IPS)).containsExactly("10.96.0.5", "198.51.100.7", "203.0.113.9");
        assertThat(d.noLocalEndpoints().get(v4)).containsExactly(0, 0);
    }

    @Test
    void dualStackSctpNodePortAndTerminatingFallback() {
        ServicePortName sctp = name("sctp", Protocol.SCTP);
        ServicePort svc = new ServicePort(sctp, ServiceType.NODE_PORT, List.of("10.96.0.6", "fd00:96::6"), 9999,
                30999, List.of(), List.of(), List.of(), 0, TrafficPolicy.CLUSTER, TrafficPolicy.LOCAL, 0, "");
        ProxyState s = new ProxyState(NODE, Map.of(sctp, svc), Map.of(sctp, List.of(
                terminating("10.244.1.5", "n1"), ep("10.244.2.7", "n2"), terminating("fd00:244::5", "n1"))));
        DesiredState d = DesiredState.of(s, PlannerTest.SETTINGS, NODE_IPS);
        // internalTrafficPolicy Local: the cluster IP uses this node's endpoints only, falling back to the
        // serving-and-terminating one; the NodePort (external, Cluster) uses the ready one.
        assertThat(d.destinations().get(new ServiceKey(Protocol.SCTP, "10.96.0.6", 9999)).keySet())
                .containsExactly("10.244.1.5:8080");
        assertThat(d.destinations().get(new ServiceKey(Protocol.SCTP, "192.168.0.2", 30999)).keySet())
                .containsExactly("10.244.2.7:8080");
        assertThat(d.destinations().get(new ServiceKey(Protocol.SCTP, "fd00:96::6", 9999)).keySet())
                .containsExactly("[fd00:244::5]:8080");
        assertThat(d.destinations().get(new ServiceKey(Protocol.SCTP, "fd00:1::2", 30999)).keySet())
                .containsExactly("[fd00:244::5]:8080");
        assertThat(d.bound()).containsExactly("10.96.0.6", "fd00:96::6");
        assertThat(d.entries(IpFamily.IPv4, IpsetSpec.NODE_PORT_SCTP)).containsExactly(
                "192.168.0.2,sctp:30999", "192.168.1.2,sctp:30999");
        assertThat(d.entries(IpFamily.IPv6, IpsetSpec.NODE_PORT_SCTP)).containsExactly("fd00:1::2,sctp:30999");
        assertThat(d.entries(IpFamily.IPv6, IpsetSpec.CLUSTER_IP)).containsExactly("fd00:96::6,sctp:9999");
        assertThat(IpsetSpec.NODE_PORT_LOCAL_SCTP.name(IpFamily.IPv6)).isEqualTo("KUBE-6-NODE-PORT-LOCAL-SCTP-HAS");
    }

    @Test
    void localPolicyWithoutLocalEndpointsHasNoDestinationsAndIsCounted() {
        ServicePortName web = name("web", Protocol.TCP);
        ServicePort svc = new ServicePort(web, ServiceType.NODE_PORT, List.of("10.96.0.7"), 80, 30080, List.of(),
                List.of(), List.of(), 0, TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER, 0, "");
        ProxyState s = new ProxyState(NODE, Map.of(web, svc), Map.of(web, List.of(ep("10.244.2.7", "n2"))));
        DesiredState d = DesiredState.of(s, PlannerTest.SETTINGS, List.of("192.168.0.2"));
        assertThat(d.destinations().get(new ServiceKey(Protocol.TCP, "192.168.0.2", 30080))).isEmpty();
        assertThat(d.destinations().get(new ServiceKey(Protocol.TCP, "10.96.0.7", 80))).hasSize(1);
        assertThat(d.noLocalEndpoints().get(IpFamily.IPv4)).containsExactly(0, 1);
    }

    @Test
    void nodePortAddressesLimitWhereNodePortsListen() {
        IpvsSettings s = new IpvsSettings("wrr", List.of(), false, new io.pointsman.ipvs.kernel.IpvsTimeouts(0, 0, 0),
                false, 0x4000, List.of(), "ClusterCIDR", "", "", List.of("192.168.1.0/24"), false,
                java.time.Duration.ofMinutes(1), java.time.Duration.ofMinutes(1));
        ServicePortName web = name("web", Protocol.UDP);
        ServicePort svc = ServicePort.clusterIp(web, "10.96.0.8", 53).withNodePort(30053);
        Map<ServicePortName, ServicePort> svcs = new LinkedHashMap<>();
        svcs.put(web, svc);
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        ProxyState st = new ProxyState(NODE, svcs, eps);
        DesiredState d = DesiredState.of(st, s, NODE_IPS);
        assertThat(text(d)).isEqualTo("-A -u 10.96.0.8:53 -s wrr\n-A -u 192.168.1.2:30053 -s wrr\n");
        assertThat(d.entries(IpFamily.IPv4, IpsetSpec.NODE_PORT_UDP)).containsExactly("30053");
    }
}
