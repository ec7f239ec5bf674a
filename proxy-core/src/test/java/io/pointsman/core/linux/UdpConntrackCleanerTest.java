package io.pointsman.core.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The cleanup rule against an in-memory conntrack table that deletes like the tool does. */
class UdpConntrackCleanerTest {
    private static final String NODE_IP = "192.168.0.10";
    private static final String CLIENT = "192.168.0.99";
    private static final ServicePortName DNS = new ServicePortName("kube-system", "dns", "dns", Protocol.UDP);
    private static final ServicePortName SYSLOG = new ServicePortName("default", "syslog", "udp", Protocol.UDP);
    private static final ServicePortName WEB = new ServicePortName("default", "web", "http", Protocol.TCP);

    /** A conntrack table in memory: list answers it, delete removes what the filter matches. */
    static final class TableConntrack implements Conntrack {
        final Map<IpFamily, List<ConntrackFlow>> flows = new EnumMap<>(IpFamily.class);
        final List<Filter> deletions = new ArrayList<>();
        int lists;
        String failWith;

        void add(IpFamily f, String origDst, int dport, String replySrc, int replySport, int sport) {
            String client = f == IpFamily.IPv4 ? CLIENT : "fd00::99";
            flows.computeIfAbsent(f, k -> new ArrayList<>()).add(new ConntrackFlow(f, Protocol.UDP, client, origDst,
                    sport, dport, replySrc, client, replySport, sport));
        }

        int size() {
            return flows.values().stream().mapToInt(List::size).sum();
        }

        @Override
        public List<ConntrackFlow> list(IpFamily family, Protocol protocol) throws ConntrackException {
            lists++;
            if (failWith != null) {
                throw new ConntrackException(failWith);
            }
            return List.copyOf(flows.getOrDefault(family, List.of()));
        }

        @Override
        public int delete(Filter f) {
            deletions.add(f);
            List<ConntrackFlow> l = flows.getOrDefault(f.family(), new ArrayList<>());
            int before = l.size();
            l.removeIf(x -> x.origDst().equals(f.origDst()) && x.origDstPort() == f.origDstPort()
                    && x.replySrc().equals(f.replySrc()) && x.replySrcPort() == f.replySrcPort());
            return before - l.size();
        }
    }

    private final TableConntrack table = new TableConntrack();
    private final ProxyMetrics metrics = new ProxyMetrics("iptables");
    private final UdpConntrackCleaner cleaner = new UdpConntrackCleaner(table, metrics,
            Set.of(IpFamily.IPv4, IpFamily.IPv6), () -> List.of(NODE_IP, "10.0.0.10"));

    @Test
    void theFirstRunKeepsFlowsToServingEndpointsAndDeletesTheRest() {
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.244.1.2", 5353, 40001);   // to a serving endpoint
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.244.1.9", 5353, 40002);   // to an endpoint gone while we were down
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.96.0.10", 53, 40003);     // blackholed: never DNATed
        table.add(IpFamily.IPv4, "10.244.1.2", 5353, "10.244.1.2", 5353, 40004); // straight to the pod: not ours
        UdpConntrackCleaner.Outcome o = cleaner.clean(state(dns(0, "10.244.1.2", "10.244.1.3")));
        assertThat(o.checked()).containsExactly(DNS);
        assertThat(o.deleted()).containsEntry(IpFamily.IPv4, 2);
        assertThat(table.flows.get(IpFamily.IPv4)).extracting(ConntrackFlow::origSrcPort).containsExactly(40001, 40004);
        assertThat(metrics.scrape())
                .contains("kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family=\"IPv4\"} 2.0")
                .contains("kubeproxy_conntrack_reconciler_sync_duration_seconds_count{ip_family=\"IPv4\"} 1");
    }

    @Test
    void laterRunsCheckOnlyChangedUdpPorts() {
        cleaner.clean(state(dns(0, "10.244.1.2"), syslog("10.244.1.5")));
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.244.1.2", 5353, 40001);
        table.add(IpFamily.IPv4, "10.96.0.11", 514, "10.244.1.7", 514, 40002); // stale, but syslog does not change

        UdpConntrackCleaner.Outcome same = cleaner.clean(state(dns(0, "10.244.1.2"), syslog("10.244.1.5"), web()));
        assertThat(same.checked()).as("a TCP port changed, no UDP port did").isEmpty();
        assertThat(table.lists).isEqualTo(1);

        UdpConntrackCleaner.Outcome moved = cleaner.clean(state(dns(0, "10.244.1.3"), syslog("10.244.1.5")));
        assertThat(moved.checked()).containsExactly(DNS);
        assertThat(table.deletions).containsExactly(
                new Conntrack.Filter(IpFamily.IPv4, Protocol.UDP, "10.96.0.10", 53, "10.244.1.2", 5353));
        assertThat(table.flows.get(IpFamily.IPv4)).extracting(ConntrackFlow::origDst).containsExactly("10.96.0.11");
    }

    @Test
    void nodePortFlowsCountOnlyWhenTheyWereAddressedToThisNode() {
        cleaner.clean(state(dns(30053, "10.244.1.2")));
        table.add(IpFamily.IPv4, NODE_IP, 30053, "10.244.1.2", 5353, 40001);
        table.add(IpFamily.IPv4, "10.0.0.10", 30053, "10.244.1.2", 5353, 40002);
        table.add(IpFamily.IPv4, "127.0.0.1", 30053, "10.244.1.2", 5353, 40003);
        table.add(IpFamily.IPv4, "203.0.113.7", 30053, "203.0.113.7", 30053, 40004); // to a remote host's port 30053
        cleaner.clean(state(dns(30053, "10.244.1.3")));
        assertThat(table.flows.get(IpFamily.IPv4)).extracting(ConntrackFlow::origSrcPort).containsExactly(40004);
    }

    @Test
    void externalAndLoadBalancerIpsAreServiceDestinationsToo() {
        cleaner.clean(state(dns(0, "10.244.1.2")));
        table.add(IpFamily.IPv4, "198.51.100.1", 53, "10.244.1.2", 5353, 40001);
        table.add(IpFamily.IPv4, "203.0.113.53", 53, "10.244.1.2", 5353, 40002);
        cleaner.clean(state(dns(0, "10.244.1.3")));
        assertThat(table.size()).isZero();
    }

    @Test
    void anEndpointWhosePortChangedLeavesStaleFlows() {
        cleaner.clean(state(dns(0, "10.244.1.2")));
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.244.1.2", 5353, 40001);
        ServicePort svc = dns(0).port();
        ProxyState moved = new ProxyState(node(), Map.of(DNS, svc),
                Map.of(DNS, List.of(Endpoint.ready("10.244.1.2", 5354, "n1"))));
        cleaner.clean(moved);
        assertThat(table.size()).isZero();
    }

    @Test
    void aRemovedServiceLeavesNothingServingItsOldAddresses() {
        cleaner.clean(state(dns(30053, "10.244.1.2"), syslog("10.244.1.5")));
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.244.1.2", 5353, 40001);
        table.add(IpFamily.IPv4, NODE_IP, 30053, "10.244.1.2", 5353, 40002);
        table.add(IpFamily.IPv4, "10.96.0.11", 514, "10.244.1.5", 514, 40003);
        UdpConntrackCleaner.Outcome o = cleaner.clean(state(syslog("10.244.1.5")));
        assertThat(o.checked()).containsExactly(DNS);
        assertThat(table.flows.get(IpFamily.IPv4)).extracting(ConntrackFlow::origSrcPort).containsExactly(40003);
    }

    @Test
    void eachFamilyIsCheckedAgainstItsOwnEndpoints() {
        table.add(IpFamily.IPv6, "fd00:96::10", 53, "fd00:244::2", 5353, 40001);
        table.add(IpFamily.IPv6, "fd00:96::10", 53, "fd00:244::9", 5353, 40002);
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.244.1.2", 5353, 40003);
        ServicePort svc = new ServicePort(DNS, ServiceType.CLUSTER_IP, List.of("10.96.0.10", "fd00:96::10"), 53, 0,
                List.of(), List.of(), List.of(), 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, "");
        UdpConntrackCleaner.Outcome o = cleaner.clean(new ProxyState(node(), Map.of(DNS, svc),
                Map.of(DNS, List.of(Endpoint.ready("10.244.1.2", 5353, "n1"), Endpoint.ready("fd00:244::2", 5353, "n1")))));
        assertThat(o.deleted()).containsEntry(IpFamily.IPv6, 1).containsEntry(IpFamily.IPv4, 0);
        assertThat(table.flows.get(IpFamily.IPv6)).extracting(ConntrackFlow::origSrcPort).containsExactly(40001);
    }

    @Test
    void aFailedRunIsRepeatedAtTheNextSync() {
        table.add(IpFamily.IPv4, "10.96.0.10", 53, "10.244.1.9", 5353, 40001);
        table.failWith = "cannot run conntrack: No such file or directory";
        UdpConntrackCleaner.Outcome failed = cleaner.clean(state(dns(0, "10.244.1.2")));
        assertThat(failed.failed()).isTrue();
        table.failWith = null;
        UdpConntrackCleaner.Outcome retried = cleaner.clean(state(dns(0, "10.244.1.2")));
        assertThat(retried.failed()).isFalse();
        assertThat(retried.checked()).as("same state, but the failed check is repeated").containsExactly(DNS);
        assertThat(table.size()).isZero();
    }

    @Test
    void onlyServedFamiliesAreRead() {
        UdpConntrackCleaner v4only = new UdpConntrackCleaner(table, metrics, Set.of(IpFamily.IPv4), List::of);
        table.add(IpFamily.IPv6, "fd00:96::10", 53, "fd00:244::9", 5353, 40001);
        ServicePort svc = new ServicePort(DNS, ServiceType.CLUSTER_IP, List.of("fd00:96::10"), 53, 0,
                List.of(), List.of(), List.of(), 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, "");
        v4only.clean(new ProxyState(node(), Map.of(DNS, svc), Map.of()));
        assertThat(table.lists).isZero();
        assertThat(table.size()).isEqualTo(1);
    }

    // ---- helpers ----

    private static NodeInfo node() {
        return new NodeInfo("n1", Map.of(), List.of(NODE_IP), List.of());
    }

    /** A service port with its endpoints. */
    private record Svc(ServicePort port, List<Endpoint> endpoints) {
    }

    private static Svc dns(int nodePort, String... endpointIps) {
        ServicePort svc = new ServicePort(DNS, nodePort == 0 ? ServiceType.CLUSTER_IP : ServiceType.NODE_PORT,
                List.of("10.96.0.10"), 53, nodePort, List.of("198.51.100.1"), List.of("203.0.113.53"), List.of(), 0,
                TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, "");
        List<Endpoint> eps = new ArrayList<>();
        for (String ip : endpointIps) {
            eps.add(Endpoint.ready(ip, 5353, "n1"));
        }
        return new Svc(svc, eps);
    }

    private static Svc syslog(String endpointIp) {
        return new Svc(ServicePort.clusterIp(SYSLOG, "10.96.0.11", 514), List.of(Endpoint.ready(endpointIp, 514, "n2")));
    }

    private static Svc web() {
        return new Svc(ServicePort.clusterIp(WEB, "10.96.0.12", 80), List.of(Endpoint.ready("10.244.1.2", 8080, "n1")));
    }

    private static ProxyState state(Svc... svcs) {
        Map<ServicePortName, ServicePort> ports = new HashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        for (Svc s : svcs) {
            ports.put(s.port().name(), s.port());
            eps.put(s.port().name(), s.endpoints());
        }
        return new ProxyState(node(), ports, eps);
    }
}
