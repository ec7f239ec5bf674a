package io.pointsman.ipvs;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.linux.ExecNetfilter;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The ipsets and iptables rules of IPVS mode applied with the real tools inside a network
 * namespace of this test (the IPVS part itself needs the VM: see IpvsVmTest).
 */
class IpvsNetfilterKernelTest {
    static final List<IpFamily> BOTH = List.of(IpFamily.IPv4, IpFamily.IPv6);

    static ProxyState cluster(boolean withLb) {
        NodeInfo node = new NodeInfo("n1", Map.of(), List.of("192.168.0.2", "fd00:1::2"), List.of());
        Map<ServicePortName, ServicePort> svcs = new LinkedHashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        ServicePortName web = new ServicePortName("ns", "web", "http", Protocol.TCP);
        svcs.put(web, new ServicePort(web, ServiceType.NODE_PORT, List.of("10.96.0.10", "fd00:96::10"), 80, 30080,
                List.of("203.0.113.5"), List.of(), List.of(), 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, ""));
        eps.put(web, List.of(Endpoint.ready("10.244.1.5", 8080, "n1"), Endpoint.ready("fd00:244::5", 8080, "n1")));
        ServicePortName dns = new ServicePortName("ns", "dns", "dns", Protocol.UDP);
        svcs.put(dns, ServicePort.clusterIp(dns, "10.96.0.53", 53).withNodePort(30053));
        ServicePortName sctp = new ServicePortName("ns", "sctp", "s", Protocol.SCTP);
        svcs.put(sctp, ServicePort.clusterIp(sctp, "10.96.0.99", 9999).withNodePort(30999));
        if (withLb) {
            ServicePortName lb = new ServicePortName("ns", "lb", "https", Protocol.TCP);
            svcs.put(lb, new ServicePort(lb, ServiceType.LOAD_BALANCER, List.of("10.96.0.5"), 443, 31443, List.of(),
                    List.of("198.51.100.7"), List.of("192.168.0.0/16", "10.1.2.3/32"), 0, TrafficPolicy.LOCAL,
                    TrafficPolicy.CLUSTER, 32000, ""));
            eps.put(lb, List.of(Endpoint.ready("10.244.1.6", 8443, "n1")));
        }
        return new ProxyState(node, svcs, eps);
    }

    @Test
    void ipsetsAndRulesApplyConvergeAndCleanUp() throws Exception {
        Kernel.require("iptables-restore", "ip6tables-restore", "ipset");
        try (Netns ns = Netns.create("ipvs")) {
            ExecNetfilter nf = new ExecNetfilter(ns.prefix());
            ExecIpset ipset = new ExecIpset(ns.prefix());
            List<String> nodeIPs = List.of("192.168.0.2", "fd00:1::2");
            DesiredState first = DesiredState.of(cluster(true), PlannerTest.SETTINGS, nodeIPs);
            apply(nf, ipset, first);

            // What ipset save prints equals what we asked for: a second pass has nothing to do.
            assertThat(IpsetSync.script(IpsetSync.parse(ipset.save()), first, BOTH)).isEmpty();
            String saved = ipset.save();
            assertThat(saved).contains("add KUBE-LOAD-BALANCER-SOURCE-CIDR 198.51.100.7,tcp:443,10.1.2.3\n",
                    "add KUBE-NODE-PORT-SCTP-HASH 192.168.0.2,sctp:30999\n", "add KUBE-6-CLUSTER-IP fd00:96::10,tcp:80\n",
                    "create KUBE-6-LOAD-BALANCER-SOURCE-CID hash:ip,port,net family inet6");
            String nat = nf.save(IpFamily.IPv4, "nat");
            assertThat(nat).contains("-A KUBE-SERVICES -m comment --comment \"Kubernetes service lb portal\" -m set"
                    + " --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER");
            assertThat(IpvsRules.missingJumps(nat, nf.save(IpFamily.IPv4, "filter"))).isEmpty();
            assertThat(IpvsRules.missingJumps(nf.save(IpFamily.IPv6, "nat"), nf.save(IpFamily.IPv6, "filter"))).isEmpty();

            // Applying again keeps one jump each; removing the LB service removes its entries.
            DesiredState second = DesiredState.of(cluster(false), PlannerTest.SETTINGS, nodeIPs);
            String script = IpsetSync.script(IpsetSync.parse(ipset.save()), second, BOTH);
            assertThat(script).contains("del KUBE-LOAD-BALANCER 198.51.100.7,tcp:443\n").doesNotContain("add ");
            apply(nf, ipset, second);
            assertThat(IpsetSync.script(IpsetSync.parse(ipset.save()), second, BOTH)).isEmpty();
            String nat2 = nf.save(IpFamily.IPv4, "nat");
            assertThat(nat2.lines().filter(l -> l.contains("-j KUBE-SERVICES")).count()).isEqualTo(2); // PREROUTING, OUTPUT
            assertThat(nat2).doesNotContain("KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER");
            assertThat(IpsetSync.parse(ipset.save()).get("KUBE-LOAD-BALANCER").entries()).isEmpty();

            assertThat(IpvsCleanup.removeRulesAndSets(nf, ipset)).isFalse();
            assertThat(nf.save(IpFamily.IPv4, "nat") + nf.save(IpFamily.IPv4, "filter") + nf.save(IpFamily.IPv6, "nat")
                    + nf.save(IpFamily.IPv6, "filter")).doesNotContain("KUBE-");
            assertThat(ipset.save()).doesNotContain("KUBE-");
        }
    }

    private static void apply(ExecNetfilter nf, ExecIpset ipset, DesiredState d) throws Exception {
        String script = IpsetSync.script(IpsetSync.parse(ipset.save()), d, BOTH);
        ipset.restore(script);
        for (IpFamily f : BOTH) {
            List<IpvsRules.Jump> missing = IpvsRules.missingJumps(nf.save(f, "nat"), nf.save(f, "filter"));
            nf.restore(f, IpvsRules.render(f, PlannerTest.SETTINGS, cluster(true).node(), d, missing));
        }
    }
}
