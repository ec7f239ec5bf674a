package io.pointsman.ipvs;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

class IpvsRulesTest {

    @Test
    void rulesFollowTheNonEmptySetsAndTheLocalDetector() {
        DesiredState d = DesiredState.of(PlannerTest.state("10.244.1.5"), PlannerTest.SETTINGS, List.of("192.168.0.2"));
        String rules = IpvsRules.render(IpFamily.IPv4, PlannerTest.SETTINGS, NodeInfo.named("n1"), d,
                IpvsRules.missingJumps("", "-A INPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-FILTER"));
        assertThat(rules).contains(
                "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n",
                "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n",
                "-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment \"Kubernetes service cluster ip + port for"
                        + " masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n",
                "-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\n",
                "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT\n",
                "-I PREROUTING 1 -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        // Empty sets get no KUBE-SERVICES rule; a jump already present is not inserted again.
        assertThat(rules).doesNotContain("KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER", "-A KUBE-SERVICES -m comment --comment \"Kubernetes service external ip",
                "-I INPUT 1 -m comment --comment \"kubernetes ipvs access filter\"");
        assertThat(rules.indexOf("*filter")).isGreaterThan(rules.indexOf("COMMIT"));
    }

    @Test
    void ipv6UsesItsOwnSetsAndRejectType() {
        DesiredState d = DesiredState.of(PlannerTest.state(), PlannerTest.SETTINGS, List.of());
        String rules = IpvsRules.render(IpFamily.IPv6, PlannerTest.SETTINGS, NodeInfo.named("n1"), d, List.of());
        assertThat(rules).contains("--match-set KUBE-6-IPVS-IPS dst -j REJECT --reject-with icmp6-port-unreachable")
                .contains("KUBE-6-LOAD-BALANCER-SOURCE-CID dst,dst,src -j RETURN")
                .doesNotContain("--match-set KUBE-CLUSTER-IP ");
    }

    @Test
    void cleanupUnlinksAndDeletesOnlyOurChains() {
        String saved = String.join("\n", "*nat", ":PREROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]",
                ":KUBE-MARK-MASQ - [0:0]", ":OTHER - [0:0]",
                "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                "-A PREROUTING -j OTHER", "-A OTHER -j KUBE-MARK-MASQ", "COMMIT", "");
        assertThat(IpvsCleanup.payload("nat", saved)).isEqualTo(String.join("\n", "*nat",
                ":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]",
                "-D PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                "-D OTHER -j KUBE-MARK-MASQ", "-X KUBE-SERVICES", "-X KUBE-MARK-MASQ", "COMMIT", ""));
        assertThat(IpvsCleanup.payload("filter", "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")).isNull();
    }
}
