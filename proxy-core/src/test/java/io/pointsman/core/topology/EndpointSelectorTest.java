package io.pointsman.core.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.topology.EndpointSelector.Selection;
import io.pointsman.core.topology.EndpointSelector.TopologyMode;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Table-driven: each row is a service shape, endpoints, and the expected categories (by IP). */
class EndpointSelectorTest {
    private static final NodeInfo NODE = new NodeInfo("node-a", Map.of(NodeInfo.ZONE_LABEL, "zone-a"), List.of(), List.of());
    private static final ServicePortName NAME = new ServicePortName("ns", "svc", "http", Protocol.TCP);

    /** ready / serving / terminating flags: R = ready+serving, T = serving+terminating, X = terminating not serving, N = not ready. */
    private static Endpoint ep(String ip, String state, String node, String... zoneHints) {
        boolean ready = state.equals("R");
        boolean serving = ready || state.equals("T");
        boolean terminating = state.equals("T") || state.equals("X");
        return new Endpoint(ip, 80, ready, serving, terminating, node, "", Set.of(zoneHints), Set.of());
    }

    private static ServicePort svc(TrafficPolicy internal, TrafficPolicy external, int nodePort) {
        return new ServicePort(NAME, nodePort == 0 ? ServiceType.CLUSTER_IP : ServiceType.NODE_PORT, List.of("10.96.0.1"),
                80, nodePort, List.of(), List.of(), List.of(), 0, external, internal, 0, "");
    }

    private static final ServicePort CLUSTER = svc(TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0);
    private static final ServicePort ITP_LOCAL = svc(TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER, 0);
    private static final ServicePort ETP_LOCAL = svc(TrafficPolicy.CLUSTER, TrafficPolicy.LOCAL, 30080);
    private static final ServicePort ETP_LOCAL_NO_EXTERNAL = svc(TrafficPolicy.CLUSTER, TrafficPolicy.LOCAL, 0);
    private static final ServicePort BOTH_LOCAL = svc(TrafficPolicy.LOCAL, TrafficPolicy.LOCAL, 30080);

    static Stream<Arguments> table() {
        return Stream.of(
            row("cluster: ready endpoints only", CLUSTER,
                List.of(ep("10.0.0.1", "R", "node-b"), ep("10.0.0.2", "N", "node-a"), ep("10.0.0.3", "T", "node-a")),
                "10.0.0.1", "", "10.0.0.1", true),
            row("cluster: serving-terminating fallback when none ready", CLUSTER,
                List.of(ep("10.0.0.2", "N", "node-a"), ep("10.0.0.3", "T", "node-b"), ep("10.0.0.4", "X", "node-b")),
                "10.0.0.3", "", "10.0.0.3", true),
            row("cluster: nothing usable", CLUSTER,
                List.of(ep("10.0.0.2", "N", "node-a"), ep("10.0.0.4", "X", "node-b")),
                "", "", "", false),
            row("cluster: no endpoints at all", CLUSTER, List.of(), "", "", "", false),
            row("zone hints used when all have them and one matches", CLUSTER,
                List.of(ep("10.0.0.1", "R", "node-b", "zone-a"), ep("10.0.0.2", "R", "node-c", "zone-b")),
                "10.0.0.1", "", "10.0.0.1", true),
            row("zone hints ignored when one endpoint lacks them", CLUSTER,
                List.of(ep("10.0.0.1", "R", "node-b", "zone-a"), ep("10.0.0.2", "R", "node-c")),
                "10.0.0.1,10.0.0.2", "", "10.0.0.1,10.0.0.2", true),
            row("zone hints ignored when none matches this zone", CLUSTER,
                List.of(ep("10.0.0.1", "R", "node-b", "zone-c"), ep("10.0.0.2", "R", "node-c", "zone-b")),
                "10.0.0.1,10.0.0.2", "", "10.0.0.1,10.0.0.2", true),
            row("internal Local: this node's ready endpoints", ITP_LOCAL,
                List.of(ep("10.0.0.1", "R", "node-a"), ep("10.0.0.2", "R", "node-b")),
                "", "10.0.0.1", "10.0.0.1", true),
            row("internal Local: local serving-terminating fallback", ITP_LOCAL,
                List.of(ep("10.0.0.1", "T", "node-a"), ep("10.0.0.2", "R", "node-b")),
                "", "10.0.0.1", "10.0.0.1", true),
            row("internal Local: no local endpoints but remote ones exist", ITP_LOCAL,
                List.of(ep("10.0.0.2", "R", "node-b")),
                "", "", "", true),
            row("external Local: cluster and local sets merged", ETP_LOCAL,
                List.of(ep("10.0.0.1", "R", "node-a"), ep("10.0.0.2", "R", "node-b")),
                "10.0.0.1,10.0.0.2", "10.0.0.1", "10.0.0.1,10.0.0.2", true),
            row("external Local with a terminating local endpoint reachable only locally", ETP_LOCAL,
                List.of(ep("10.0.0.1", "T", "node-a"), ep("10.0.0.2", "R", "node-b")),
                "10.0.0.2", "10.0.0.1", "10.0.0.1,10.0.0.2", true),
            row("external Local on a port with no external access counts as Cluster", ETP_LOCAL_NO_EXTERNAL,
                List.of(ep("10.0.0.1", "R", "node-a"), ep("10.0.0.2", "R", "node-b")),
                "10.0.0.1,10.0.0.2", "", "10.0.0.1,10.0.0.2", true),
            row("both Local on a NodePort: cluster set kept for the pod/node short-circuit", BOTH_LOCAL,
                List.of(ep("10.0.0.1", "R", "node-a"), ep("10.0.0.2", "R", "node-b")),
                "10.0.0.1,10.0.0.2", "10.0.0.1", "10.0.0.1,10.0.0.2", true),
            row("internal Local without external access: only local endpoints",
                svc(TrafficPolicy.LOCAL, TrafficPolicy.LOCAL, 0),
                List.of(ep("10.0.0.1", "R", "node-a"), ep("10.0.0.2", "R", "node-b")),
                "", "10.0.0.1", "10.0.0.1", true)
        );
    }

    private static Arguments row(String name, ServicePort svc, List<Endpoint> eps, String cluster, String local,
                                 String all, boolean any) {
        return Arguments.of(name, svc, eps, cluster, local, all, any);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void categorises(String name, ServicePort svc, List<Endpoint> eps, String cluster, String local, String all,
                     boolean any) {
        Selection s = EndpointSelector.select(eps, svc, NODE, true);
        assertThat(ips(s.clusterEndpoints())).as("cluster").isEqualTo(split(cluster));
        assertThat(ips(s.localEndpoints())).as("local").isEqualTo(split(local));
        assertThat(ips(s.allReachable())).as("all reachable").isEqualTo(split(all));
        assertThat(s.hasAnyEndpoints()).as("has any").isEqualTo(any);
    }

    @ParameterizedTest(name = "node hints honoured only with the gate: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void nodeHints(boolean gate) {
        List<Endpoint> eps = List.of(
                new Endpoint("10.0.0.1", 80, true, true, false, "node-a", "", Set.of(), Set.of("node-a")),
                new Endpoint("10.0.0.2", 80, true, true, false, "node-b", "", Set.of(), Set.of("node-b")));
        Selection s = EndpointSelector.select(eps, CLUSTER, NODE, gate);
        assertThat(s.topologyMode()).isEqualTo(gate ? TopologyMode.PREFER_SAME_NODE : TopologyMode.NONE);
        assertThat(ips(s.clusterEndpoints())).isEqualTo(gate ? List.of("10.0.0.1") : List.of("10.0.0.1", "10.0.0.2"));
    }

    private static List<String> ips(List<Endpoint> eps) {
        return eps.stream().map(Endpoint::ip).toList();
    }

    private static List<String> split(String csv) {
        return csv.isEmpty() ? List.of() : Arrays.asList(csv.split(","));
    }
}
