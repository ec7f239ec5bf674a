package io.pointsman.iptables;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

/** Where missing jump rules go, so a repaired built-in chain reads as a fresh one. */
class JumpRulesTest {
    private static final String FIREWALL = "-A INPUT -j KUBE-FIREWALL";
    private static final String PROXY_FIREWALL = "-A INPUT -m conntrack --ctstate NEW -m comment --comment"
            + " \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL";
    private static final String NODEPORTS = "-A INPUT -m comment --comment \"kubernetes health check service ports\""
            + " -j KUBE-NODEPORTS";
    private static final String EXTERNAL = "-A INPUT -m conntrack --ctstate NEW -m comment --comment"
            + " \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES";

    private static SavedTable filter(String... inputRules) {
        StringBuilder b = new StringBuilder("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
        for (String r : inputRules) {
            b.append(r).append('\n');
        }
        return SavedTable.parse(b.append("COMMIT\n").toString());
    }

    private static final Set<String> DECLARED = Set.of("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
            "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL");

    @Test
    void anEmptyChainGetsThemInUpstreamsFinalOrder() {
        IptablesRenderer.Extra e = JumpRules.missing("filter", filter(), DECLARED);
        assertThat(e.ruleLines().stream().filter(l -> l.startsWith("-I INPUT "))).containsExactly(
                "-I INPUT 1 -j KUBE-FIREWALL",
                "-I INPUT 2 " + PROXY_FIREWALL.substring(9),
                "-I INPUT 3 " + NODEPORTS.substring(9),
                "-I INPUT 4 " + EXTERNAL.substring(9));
        assertThat(e.chainLines()).isEmpty();
    }

    @Test
    void aMissingJumpGoesRightAfterTheOneBeforeIt() {
        // Another program's rule first, then ours with the health-check jump deleted by hand.
        IptablesRenderer.Extra e = JumpRules.missing("filter",
                filter("-A INPUT -i lo -j ACCEPT", FIREWALL, PROXY_FIREWALL, EXTERNAL), DECLARED);
        assertThat(e.ruleLines().stream().filter(l -> l.startsWith("-I INPUT "))).containsExactly(
                "-I INPUT 4 " + NODEPORTS.substring(9));
        // The first of ours missing goes to the top, as upstream's prepend puts it.
        e = JumpRules.missing("filter", filter("-A INPUT -i lo -j ACCEPT", PROXY_FIREWALL, NODEPORTS, EXTERNAL),
                DECLARED);
        assertThat(e.ruleLines().stream().filter(l -> l.startsWith("-I INPUT "))).containsExactly(
                "-I INPUT 1 -j KUBE-FIREWALL");
        assertThat(JumpRules.missing("filter", filter(FIREWALL, PROXY_FIREWALL, NODEPORTS, EXTERNAL), DECLARED)
                .ruleLines()).noneMatch(l -> l.startsWith("-I INPUT "));
    }

    @Test
    void aTargetChainIsDeclaredOnlyWhenNeitherPayloadNorKernelHasIt() {
        assertThat(JumpRules.missing("filter", filter(), Set.of("KUBE-SERVICES")).chainLines()).containsExactly(
                ":KUBE-EXTERNAL-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-FORWARD - [0:0]",
                ":KUBE-PROXY-FIREWALL - [0:0]", ":KUBE-FIREWALL - [0:0]");
    }
}
