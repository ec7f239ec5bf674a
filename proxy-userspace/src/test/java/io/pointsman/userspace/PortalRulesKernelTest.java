package io.pointsman.userspace;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.linux.ExecNetfilter;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The portal payloads against the real iptables-restore, in a namespace of the test's own. */
class PortalRulesKernelTest {
    private static final ServicePortName WEB = new ServicePortName("default", "web", "http", Protocol.TCP);

    @Test
    void portalsApplyRewriteAndCleanUpWithoutTouchingOtherRules() throws Exception {
        Kernel.require("ip", "iptables-restore", "iptables-save");
        try (Netns ns = Netns.create("portals")) {
            ExecNetfilter netfilter = new ExecNetfilter(ns.prefix());
            // Someone else's rule that must survive everything below.
            netfilter.restore(IpFamily.IPv4, "*nat\n:OTHER - [0:0]\n-A PREROUTING -j OTHER\nCOMMIT\n");

            List<PortalRules.Portal> portals = List.of(
                    new PortalRules.Portal(WEB, Protocol.TCP, "10.96.0.10", 80, 40001, List.of()),
                    new PortalRules.Portal(WEB, Protocol.TCP, "198.51.100.1", 80, 40002, List.of("192.0.2.0/24")));
            assertThat(PortalRules.jumpsPresent(netfilter.save(IpFamily.IPv4, "nat"))).isFalse();
            netfilter.restore(IpFamily.IPv4, PortalRules.render(IpFamily.IPv4, portals, true));
            String saved = netfilter.save(IpFamily.IPv4, "nat");
            assertThat(PortalRules.jumpsPresent(saved)).as("jumps found in:%n%s", saved).isTrue();
            assertThat(saved).contains("-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp")
                    .contains("--to-ports 40001")
                    .contains("-A KUBE-PORTALS-CONTAINER -s 192.0.2.0/24 -d 198.51.100.1/32");
            // The jumps come first, before the other rule.
            List<String> prerouting = saved.lines().filter(l -> l.startsWith("-A PREROUTING")).toList();
            assertThat(prerouting).hasSize(2);
            assertThat(prerouting.get(0)).endsWith("-j KUBE-PORTALS-CONTAINER");

            // A rewrite replaces the chain's content and leaves the jumps alone.
            netfilter.restore(IpFamily.IPv4, PortalRules.render(IpFamily.IPv4, portals.subList(0, 1), false));
            saved = netfilter.save(IpFamily.IPv4, "nat");
            assertThat(saved).doesNotContain("198.51.100.1");
            assertThat(saved.lines().filter(l -> l.endsWith("-j KUBE-PORTALS-CONTAINER"))).hasSize(1);

            assertThat(UserspaceBackendProvider.cleanup(netfilter)).as("cleanup failed").isFalse();
            saved = netfilter.save(IpFamily.IPv4, "nat");
            assertThat(saved).doesNotContain("KUBE-PORTALS").contains("-A PREROUTING -j OTHER");
            // Nothing left: a second cleanup has nothing to do and does not fail.
            assertThat(UserspaceBackendProvider.cleanup(netfilter)).isFalse();
        }
    }
}
