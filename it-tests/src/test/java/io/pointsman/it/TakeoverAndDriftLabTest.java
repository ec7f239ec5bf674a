package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.pointsman.core.testing.Kernel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Takeover: the node already holds rules in upstream kube-proxy's layout (plus chains of a
 * Service that no longer exists); Pointsman starts while a client connects in a loop, replaces
 * them without a flush and without a failed connection, and removes the leftover chains.
 * Drift: one of its chains is flushed and a jump rule deleted by hand; within a sync period both
 * come back, the repair is logged and counted.
 */
class TakeoverAndDriftLabTest {
    private static final String NODE_NAME = "lab-node";
    private static final ClusterObjects.Port HTTP = new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 30080);
    private static final ClusterObjects.Port DNS = new ClusterObjects.Port("dns", "UDP", 53, Lab.POD_UDP_PORT, 30053);
    private static final ClusterObjects.Port HTTP_ONLY = new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 0);
    private static final String WEB_IP = "10.96.0.10";
    private static final String EMPTY_IP = "10.96.0.12";
    /** Chains of a Service that is gone, as an earlier kube-proxy would have left them. */
    private static final String LEFTOVERS = """
            *nat
            :KUBE-SVC-LEFTOVERAAAAAAAAA - [0:0]
            :KUBE-SEP-LEFTOVERBBBBBBBBB - [0:0]
            -A KUBE-SVC-LEFTOVERAAAAAAAAA -m comment --comment "gone/old:http -> 10.244.1.9:8080" -j KUBE-SEP-LEFTOVERBBBBBBBBB
            -A KUBE-SEP-LEFTOVERBBBBBBBBB -m comment --comment gone/old:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.9:8080
            COMMIT
            """;

    @Test
    @Timeout(240)
    void takesOverUpstreamRulesWithoutAFailedConnectionAndRepairsDrift() throws Exception {
        Kernel.require("ip", "iptables-restore", "iptables-save", "iptables", "socat");
        Daemon.jar();
        try (RunDir runDir = RunDir.create(); Lab lab = Lab.create(runDir); MockApi api = MockApi.start()) {
            KubernetesClient k = api.client();
            k.nodes().resource(ClusterObjects.node(NODE_NAME, Lab.NODE_IP)).create();
            k.services().resource(ClusterObjects.service("web", WEB_IP, HTTP, DNS)).create();
            k.discovery().v1().endpointSlices()
                    .resource(ClusterObjects.endpointSlice("web", "web-1", NODE_NAME, lab.pods(), HTTP, DNS)).create();
            k.services().resource(ClusterObjects.service("empty", EMPTY_IP, HTTP_ONLY)).create();
            ApiRelay relay = ApiRelay.connect(lab, api.port());

            // What kube-proxy left on the node.
            lab.restoreInNode(resource("handwritten-upstream-layout.rules"));
            lab.restoreInNode(LEFTOVERS);
            assertThat(Probe.tally(Probe.tcp(lab.client(), WEB_IP, 80, 10))).containsOnlyKeys("pod-a", "pod-b");

            List<String> flags = new ArrayList<>(DaemonProcess.baseFlags(relay.kubeconfig("kubeconfig", "lab-token"), NODE_NAME));
            flags.addAll(List.of("--metrics-bind-address", Daemon.METRICS_ADDRESS, "--healthz-bind-address",
                    Daemon.HEALTHZ_ADDRESS, "--iptables-min-sync-period", "500ms", "--iptables-sync-period", "2s"));
            ClientLoop loop = new ClientLoop(lab.client(), List.of(WEB_IP + ":80", Lab.NODE_IP + ":" + HTTP.nodePort()),
                    20_000, Duration.ofSeconds(120), Duration.ofSeconds(2)).pause(Duration.ofMillis(20)).start();
            Thread.sleep(1_000);
            DaemonProcess daemon = DaemonProcess.start(lab, DaemonProcess.jarCopy(runDir), Map.of(), "pointsman.log",
                    flags.toArray(new String[0]));
            try {
                await("the daemon's first sync").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                        .failFast("the daemon exited", () -> !daemon.alive())
                        .until(() -> !daemon.logLines("full sync:").isEmpty());
                Thread.sleep(2_000);
                ClientLoop.Outcome traffic = loop.stop();
                System.out.printf("[takeover] client: %s%n", traffic);
                assertThat(traffic.failures()).as("connections that failed during the takeover, of %s", traffic).isEmpty();
                assertThat(Set.copyOf(traffic.tally().keySet())).isEqualTo(Set.of("pod-a", "pod-b"));
                String taken = CrashRestartTest.kubeRules(lab);
                assertThat(taken).as("leftover chains removed").doesNotContain("LEFTOVER");
                assertThat(taken).as("upstream's chain names kept").contains("KUBE-SVC-CDGGSHYLG3RE2FKL");

                // Drift: flush our ClusterIP chain and delete a jump rule, by hand.
                lab.node().exec("iptables", "-w", "-t", "nat", "-F", "KUBE-SVC-CDGGSHYLG3RE2FKL");
                lab.node().exec("iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment",
                        "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING");
                assertThat(CrashRestartTest.kubeRules(lab)).isNotEqualTo(taken);
                long t0 = System.nanoTime();
                await("drift repaired").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                        .until(() -> CrashRestartTest.kubeRules(lab).equals(taken));
                System.out.printf("[drift] repaired %d ms after the hand-made change%n", (System.nanoTime() - t0) / 1_000_000);
                assertThat(daemon.logLines("drift:")).as("drift logged").isNotEmpty();
                String metrics = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/metrics").body();
                assertThat(metrics).containsPattern("kubeproxy_sync_proxy_rules_drift_repairs_total\\{[^}]*\\} [1-9]");
                assertThat(Probe.tally(Probe.tcp(lab.client(), WEB_IP, 80, 10))).containsOnlyKeys("pod-a", "pod-b");
            } catch (AssertionError | RuntimeException e) {
                System.out.println(daemon.describe());
                System.out.println("---- node rules ----\n" + lab.nodeRules());
                throw e;
            } finally {
                loop.close();
                daemon.stop();
            }
        }
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = TakeoverAndDriftLabTest.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("test resource " + name + " missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
