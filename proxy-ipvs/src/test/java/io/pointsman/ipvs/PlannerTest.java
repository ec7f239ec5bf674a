package io.pointsman.ipvs;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PlannerTest {
    static final IpvsSettings SETTINGS = new IpvsSettings("", List.of("10.200.0.0/16"), false,
            new io.pointsman.ipvs.kernel.IpvsTimeouts(0, 0, 0), false, 0x4000, List.of("10.244.0.0/16"),
            "ClusterCIDR", "", "", List.of(), false, Duration.ofMinutes(15), Duration.ofMinutes(1));
    static final ServicePortName WEB = new ServicePortName("default", "web", "http", Protocol.TCP);
    static final ServiceKey WEB_KEY = new ServiceKey(Protocol.TCP, "10.96.0.10", 80);

    static ProxyState state(String... endpointIps) {
        Map<ServicePortName, ServicePort> svcs = new LinkedHashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        svcs.put(WEB, ServicePort.clusterIp(WEB, "10.96.0.10", 80));
        eps.put(WEB, java.util.Arrays.stream(endpointIps).map(ip -> Endpoint.ready(ip, 8080, "n1")).toList());
        return new ProxyState(new NodeInfo("n1", Map.of(), List.of("192.168.0.2"), List.of()), svcs, eps);
    }

    static DesiredState desired(ProxyState s) {
        return DesiredState.of(s, SETTINGS, List.of("192.168.0.2"));
    }

    static KernelSnapshot kernel(Map<ServiceKey, VirtualServer> svcs, Map<ServiceKey, List<RealServer>> dests,
                                 String... bound) {
        return new KernelSnapshot(svcs, dests, Set.of(bound));
    }

    @Test
    void fromAnEmptyKernelEverythingIsCreatedInDependencyOrder() {
        Plan p = Planner.plan(desired(state("10.244.1.5", "10.244.2.7")), KernelSnapshot.empty(),
                k -> SETTINGS.excluded(k.address()));
        assertThat(p.ops()).extracting(Object::toString).containsExactly(
                "create 10.96.0.10:80/TCP rr",
                "create 10.96.0.10:80/TCP -> 10.244.1.5:8080 w1",
                "create 10.96.0.10:80/TCP -> 10.244.2.7:8080 w1",
                "bind 10.96.0.10");
    }

    @Test
    void aKernelThatIsAlreadyRightNeedsNothing() {
        DesiredState d = desired(state("10.244.1.5"));
        KernelSnapshot k = kernel(Map.of(WEB_KEY, VirtualServer.of(WEB_KEY, "rr", 0)),
                Map.of(WEB_KEY, List.of(new RealServer("10.244.1.5", 8080, 1, 0, 0, 0, 3, 9))), "10.96.0.10");
        assertThat(Planner.plan(d, k, key -> false).ops()).isEmpty();
    }

    @Test
    void driftIsPutBackAndStrangersRemovedExceptExcludedOnes() {
        ServiceKey stranger = new ServiceKey(Protocol.UDP, "10.99.0.1", 53);
        ServiceKey excluded = new ServiceKey(Protocol.TCP, "10.200.0.1", 80);
        KernelSnapshot k = kernel(
                Map.of(WEB_KEY, new VirtualServer(WEB_KEY, "wlc", 0, 0, 0xffffffff),
                        stranger, VirtualServer.of(stranger, "rr", 0), excluded, VirtualServer.of(excluded, "rr", 0)),
                Map.of(WEB_KEY, List.of(RealServer.masq("10.244.1.5", 8080, 7), RealServer.masq("10.244.9.9", 8080, 1))),
                "10.96.0.99");
        Plan p = Planner.plan(desired(state("10.244.1.5", "10.244.2.7")), k, key -> SETTINGS.excluded(key.address()));
        assertThat(p.ops()).extracting(Object::toString).containsExactly(
                "unbind 10.96.0.99",
                "remove 10.96.0.10:80/TCP -> 10.244.9.9:8080",
                "delete 10.99.0.1:53/UDP",
                "update 10.96.0.10:80/TCP rr",
                "update 10.96.0.10:80/TCP -> 10.244.1.5:8080 w1",
                "create 10.96.0.10:80/TCP -> 10.244.2.7:8080 w1",
                "bind 10.96.0.10");
    }

    @Test
    void servicesWhoseDestinationsWereNotDumpedAreLeftAlone() {
        KernelSnapshot k = kernel(Map.of(WEB_KEY, VirtualServer.of(WEB_KEY, "rr", 0)), Map.of(), "10.96.0.10");
        assertThat(Planner.plan(desired(state("10.244.1.5")), k, key -> false).ops()).isEmpty();
    }

    @Test
    void gracefulTerminationDrainsTcpWithConnectionsAndDeletesTheRest() {
        GracefulTermination g = new GracefulTermination(Duration.ofSeconds(30));
        java.time.Instant t0 = java.time.Instant.parse("2026-01-01T00:00:00Z");
        RealServer busy = new RealServer("10.244.1.5", 8080, 1, 0, 0, 0, 2, 1);
        assertThat(g.decide(WEB_KEY, busy, t0)).isEqualTo(GracefulTermination.Action.SET_WEIGHT_ZERO);
        assertThat(g.decide(WEB_KEY, busy.withWeight(0), t0.plusSeconds(10))).isEqualTo(GracefulTermination.Action.WAIT);
        assertThat(g.pending()).hasSize(1);
        // The bound counts from the first decision, not the latest.
        assertThat(g.decide(WEB_KEY, busy.withWeight(0), t0.plusSeconds(30))).isEqualTo(GracefulTermination.Action.DELETE);
        assertThat(g.pending()).isEmpty();
        RealServer idle = new RealServer("10.244.1.6", 8080, 0, 0, 0, 0, 0, 0);
        assertThat(g.decide(WEB_KEY, idle, t0)).isEqualTo(GracefulTermination.Action.DELETE);
        ServiceKey udp = new ServiceKey(Protocol.UDP, "10.96.0.53", 53);
        assertThat(g.decide(udp, busy, t0)).isEqualTo(GracefulTermination.Action.DELETE);
        ServiceKey sctp = new ServiceKey(Protocol.SCTP, "10.96.0.54", 99);
        assertThat(g.decide(sctp, busy, t0)).isEqualTo(GracefulTermination.Action.DELETE);
    }
}
