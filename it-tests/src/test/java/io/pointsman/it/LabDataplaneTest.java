package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Service;
import io.pointsman.core.testing.Kernel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The lab itself, without the daemon: a hand-written restore payload in upstream kube-proxy's
 * layout, loaded into the node namespace, must carry real traffic; and the API relay must reach
 * the mock API server from inside the node. When {@link IptablesModeEndToEndTest} fails and this passes,
 * the fault is in the daemon, not in the lab.
 */
@Timeout(value = 90)
class LabDataplaneTest {
    private static final String PAYLOAD = "handwritten-upstream-layout.rules";

    @Test
    void handWrittenUpstreamRulesCarryClusterIpNodePortUdpAndReject() throws IOException {
        Kernel.require("ip", "iptables-restore", "iptables-save", "socat");
        try (RunDir dir = RunDir.create(); Lab lab = Lab.create(dir)) {
            try {
                lab.restoreInNode(payload());

                List<Probe.Answer> clusterIp = Probe.tcp(lab.client(), "10.96.0.10", 80, 30);
                assertThat(Probe.tally(clusterIp)).as("TCP to the ClusterIP").containsOnlyKeys("pod-a", "pod-b");

                List<Probe.Answer> nodePort = Probe.tcp(lab.client(), Lab.NODE_IP, 30080, 30);
                assertThat(Probe.tally(nodePort)).as("TCP to the NodePort").containsOnlyKeys("pod-a", "pod-b");

                List<Probe.Answer> udp = Probe.udp(lab.client(), "10.96.0.10", 53, 24);
                assertThat(Probe.tally(udp)).as("UDP to the ClusterIP").containsOnlyKeys("pod-a", "pod-b");

                Probe.Answer rejected = Probe.tcp(lab.client(), "10.96.0.12", 80, Duration.ofSeconds(3));
                assertThat(rejected.error()).as("TCP to a service rejected in filter KUBE-SERVICES: " + rejected)
                        .contains("Connection refused");
                assertThat(rejected.elapsed()).isLessThan(Duration.ofSeconds(1));

                // And without rules the lab routes a service IP towards the uplink, where it is lost.
                Probe.Answer unknown = Probe.tcp(lab.client(), "10.96.0.99", 80, Duration.ofMillis(500));
                assertThat(unknown.answered()).as("TCP to a service IP without rules: " + unknown).isFalse();
                assertThat(unknown.error()).doesNotContain("Connection refused");
            } catch (AssertionError | RuntimeException e) {
                System.out.println("[lab] node " + lab.node().name() + " iptables-save:\n" + lab.nodeRules());
                throw e;
            }
        }
    }

    @Test
    void apiRelayReachesTheMockServerFromInsideTheNode() {
        Kernel.require("ip", "iptables-restore", "iptables-save", "socat");
        try (RunDir dir = RunDir.create(); Lab lab = Lab.create(dir); MockApi api = MockApi.start()) {
            Service web = ClusterObjects.service("relay-check", "10.96.0.77",
                    new ClusterObjects.Port("http", "TCP", 80, 8080, 0));
            api.client().services().inNamespace(ClusterObjects.NAMESPACE).resource(web).create();
            lab.connectApi(api.port());

            Probe.HttpReply reply = Probe.httpGet(lab.node(), "127.0.0.1:" + Lab.API_PORT,
                    "/api/v1/namespaces/default/services");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.body()).contains("\"relay-check\"").contains("10.96.0.77");
        }
    }

    private static String payload() throws IOException {
        try (InputStream in = LabDataplaneTest.class.getResourceAsStream(PAYLOAD)) {
            if (in == null) {
                throw new IllegalStateException("test resource " + PAYLOAD + " missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
