package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pointsman.core.testing.Kernel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * End to end, userspace mode: the packaged daemon runs with {@code --proxy-mode userspace} inside
 * the lab's node namespace; its portal rules (real iptables-restore) bring cluster-IP traffic to
 * the Netty relay, node ports are bound by the relay itself, and real TCP/UDP from the client
 * namespace, a pod and the node reaches the pods.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UserspaceModeEndToEndTest {
    private static final String NODE_NAME = "lab-node";
    private static final ClusterObjects.Port HTTP = new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 30080);
    private static final ClusterObjects.Port DNS = new ClusterObjects.Port("dns", "UDP", 53, Lab.POD_UDP_PORT, 30053);
    /** Port of the failover servers this test starts (and kills) in the pods. */
    private static final int FAILOVER_PORT = 8081;
    private static final ClusterObjects.Port FAILOVER = new ClusterObjects.Port("http", "TCP", 80, FAILOVER_PORT, 0);
    /** Port of the slow bulk servers: a name line, then 40 x 50 000 bytes, 0.1 s apart. */
    private static final int BULK_PORT = 8082;
    private static final long BULK_BYTES = 40L * 50_000;
    private static final ClusterObjects.Port STREAM = new ClusterObjects.Port("stream", "TCP", 80, BULK_PORT, 0);
    private static final ClusterObjects.Port HELLO = new ClusterObjects.Port("hello", "TCP", 8080, Lab.POD_TCP_PORT, 0);

    /** NodePort service "web": TCP and UDP, both pods. */
    private static final String WEB_IP = "10.96.0.10";
    /** ClusterIP service "failover": both pods' failover servers; one is killed. */
    private static final String FAILOVER_IP = "10.96.0.14";
    /** ClusterIP service "bulk": a long transfer runs while the other endpoint is removed. */
    private static final String BULK_IP = "10.96.0.15";

    private RunDir runDir;
    private Lab lab;
    private MockApi api;
    private Daemon daemon;
    private final java.util.Map<String, ChildProcesses.Started> failoverServers = new java.util.HashMap<>();

    @RegisterExtension
    final TestWatcher reportOnFailure = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            report(context.getDisplayName() + " failed: " + cause);
        }
    };

    @BeforeAll
    @Timeout(120)
    void startLabAndDaemon() {
        Kernel.require("ip", "iptables-restore", "iptables-save", "socat");
        Path jar = Daemon.jar();
        try {
            runDir = RunDir.create();
            lab = Lab.create(runDir);
            startExtraServers();
            api = MockApi.start();
            createObjects(api.client());
            Path kubeconfig = lab.connectApi(api.port());
            daemon = Daemon.start(lab, jar, kubeconfig, NODE_NAME, "--proxy-mode", "userspace",
                    "--iptables-min-sync-period", "1s", "--iptables-sync-period", "30s",
                    "--userspace-connect-timeout", "1s", "-v", "2");
            await("the daemon's metrics server answering /proxyMode").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .failFast("the daemon exited", () -> !daemon.alive())
                    .until(() -> Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/proxyMode").status() == 200);
            await("the first sync: TCP to " + WEB_IP + ":80 answered by a pod").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(300))
                    .failFast("the daemon exited", () -> !daemon.alive())
                    .until(() -> Probe.tcp(lab.client(), WEB_IP, 80, Duration.ofSeconds(1)).answered());
        } catch (RuntimeException | Error e) {
            report("lab setup failed: " + e);
            stopEverything();
            throw e;
        }
    }

    /** Per pod: a failover server (killable) and a slow bulk server. Fixed strings only. */
    private void startExtraServers() {
        for (Lab.Pod pod : lab.pods()) {
            Path log = runDir.resolve(pod.name() + "-extra.log");
            failoverServers.put(pod.name(), lab.processes().start(pod.name() + " failover",
                    Lab.inside(pod.ns(), "socat", "TCP-LISTEN:" + FAILOVER_PORT + ",fork,reuseaddr",
                            "SYSTEM:echo " + pod.name()), log));
            lab.processes().start(pod.name() + " bulk", Lab.inside(pod.ns(), "socat",
                    "TCP-LISTEN:" + BULK_PORT + ",fork,reuseaddr",
                    "SYSTEM:echo " + pod.name() + "; for i in `seq 40`; do head -c 50000 /dev/zero; sleep 0.1; done"),
                    log);
        }
        for (Lab.Pod pod : lab.pods()) {
            await("failover server of " + pod.name()).atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                    .until(() -> pod.name().equals(Probe.tcp(lab.client(), pod.ip(), FAILOVER_PORT,
                            Duration.ofSeconds(1)).reply()));
        }
    }

    private void createObjects(KubernetesClient client) {
        List<Lab.Pod> pods = lab.pods();
        client.nodes().resource(ClusterObjects.node(NODE_NAME, Lab.NODE_IP)).create();
        client.services().resource(ClusterObjects.service("web", WEB_IP, HTTP, DNS)).create();
        client.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("web", "web-1", NODE_NAME, pods, HTTP, DNS)).create();
        client.services().resource(ClusterObjects.service("failover", FAILOVER_IP, FAILOVER)).create();
        client.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("failover", "failover-1", NODE_NAME, pods, FAILOVER)).create();
        client.services().resource(ClusterObjects.service("bulk", BULK_IP, STREAM, HELLO)).create();
        client.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("bulk", "bulk-1", NODE_NAME, pods, STREAM, HELLO)).create();
    }

    @AfterAll
    void stopEverything() {
        // Fields are cleared first, so a second call is a no-op.
        Lab l = lab;
        MockApi a = api;
        RunDir d = runDir;
        lab = null;
        api = null;
        runDir = null;
        LabTeardown.closeAll(l, a, d);
    }

    @Test
    @Order(1)
    @Timeout(60)
    void proxyModeAnswersUserspaceAndPortalRulesAreInPlace() {
        Probe.HttpReply mode = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/proxyMode");
        assertThat(mode.status()).isEqualTo(200);
        assertThat(mode.body().strip()).isEqualTo("userspace");
        String rules = lab.nodeRules();
        assertThat(rules).contains("-j KUBE-PORTALS-CONTAINER", "-j KUBE-PORTALS-HOST")
                .containsPattern("-A KUBE-PORTALS-CONTAINER -d " + WEB_IP + "/32 -p tcp .*--dport 80 -j REDIRECT --to-ports \\d+");
    }

    @Test
    @Order(2)
    @Timeout(60)
    void clusterIpTcpReachesBothPods() {
        assertThat(Probe.tally(Probe.tcp(lab.client(), WEB_IP, 80, 20))).as("20 TCP connections to %s:80", WEB_IP)
                .containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Order(2)
    @Timeout(60)
    void nodePortTcpReachesBothPods() {
        assertThat(Probe.tally(Probe.tcp(lab.client(), Lab.NODE_IP, HTTP.nodePort(), 20)))
                .as("20 TCP connections to %s:%d", Lab.NODE_IP, HTTP.nodePort()).containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Order(2)
    @Timeout(60)
    void clusterIpUdpReachesBothPodsAndRepliesComeFromTheServiceAddress() {
        // socat's UDP client is connected: a reply from any other address than 10.96.0.10:53 is dropped.
        assertThat(Probe.tally(Probe.udp(lab.client(), WEB_IP, 53, 12))).as("12 UDP exchanges with %s:53", WEB_IP)
                .containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Order(2)
    @Timeout(60)
    void nodePortUdpReachesBothPods() {
        assertThat(Probe.tally(Probe.udp(lab.client(), Lab.NODE_IP, DNS.nodePort(), 12)))
                .as("12 UDP exchanges with %s:%d", Lab.NODE_IP, DNS.nodePort()).containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Order(2)
    @Timeout(60)
    void theNodeItselfAndAPodReachTheClusterIp() {
        // The node's own traffic goes through KUBE-PORTALS-HOST (REDIRECT to 127.0.0.1).
        assertThat(Probe.tally(Probe.tcp(lab.node(), WEB_IP, 80, 10))).as("TCP from the node")
                .containsOnlyKeys("pod-a", "pod-b");
        assertThat(Probe.tally(Probe.udp(lab.node(), WEB_IP, 53, 8))).as("UDP from the node")
                .containsOnlyKeys("pod-a", "pod-b");
        // A pod's traffic enters through its veth: KUBE-PORTALS-CONTAINER.
        Lab.Pod pod = lab.pod("pod-a");
        assertThat(Probe.tally(Probe.tcp(pod.ns(), WEB_IP, 80, 10))).as("TCP from pod-a")
                .containsOnlyKeys("pod-a", "pod-b");
        assertThat(Probe.tally(Probe.udp(pod.ns(), WEB_IP, 53, 8))).as("UDP from pod-a")
                .containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Order(3)
    @Timeout(60)
    void aKilledPodsConnectionsFailOverOnTheNextConnection() {
        assertThat(Probe.tally(Probe.tcp(lab.client(), FAILOVER_IP, 80, 10))).as("before the kill")
                .containsOnlyKeys("pod-a", "pod-b");
        ChildProcesses.stop(failoverServers.get("pod-b").process());
        // The API still lists pod-b: the relay's dial is refused and it moves on to pod-a.
        List<Probe.Answer> after = Probe.tcp(lab.client(), FAILOVER_IP, 80, 20);
        assertThat(Probe.tally(after)).as("20 connections after pod-b's server died").containsOnlyKeys("pod-a");
        String metrics = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/metrics").body();
        assertThat(metrics).containsPattern("pointsman_userspace_dial_failures_total\\{protocol=\"TCP\",reason=\"refused\"} [1-9]");
    }

    @Test
    @Order(4)
    @Timeout(90)
    void removingAnotherEndpointDoesNotDisturbALongTransfer() throws IOException {
        Path nameFile = runDir.resolve("bulk.name");
        Path countFile = runDir.resolve("bulk.count");
        Command.Running transfer = Command.start(Lab.inside(lab.client(), "sh", "-c",
                "socat -T 20 -u TCP:" + BULK_IP + ":80,connect-timeout=3 STDOUT | { read name; echo \"$name\" > "
                        + nameFile + "; wc -c > " + countFile + "; }"), null);
        await("the transfer's first line (the serving pod)").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> Files.exists(nameFile) && !Files.readString(nameFile).isBlank());
        String serving = Files.readString(nameFile).strip();
        Lab.Pod kept = lab.pod(serving);
        Lab.Pod removed = lab.pods().stream().filter(p -> !p.name().equals(serving)).findFirst().orElseThrow();

        var slices = api.client().discovery().v1().endpointSlices().inNamespace(ClusterObjects.NAMESPACE);
        EndpointSlice current = slices.withName("bulk-1").get();
        slices.resource(new EndpointSliceBuilder(current)
                .withEndpoints(ClusterObjects.endpoint(kept, NODE_NAME)).build()).update();
        await("new connections to " + BULK_IP + ":8080 reach only " + kept.name())
                .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(250))
                .untilAsserted(() -> assertThat(Probe.tally(Probe.tcp(lab.client(), BULK_IP, 8080, 6)))
                        .containsOnlyKeys(kept.name()));

        Command.Outcome o = transfer.finish(Duration.ofSeconds(30));
        assertThat(o.exit()).as("the transfer: %s", o).isZero();
        assertThat(Files.readString(countFile).strip()).as("bytes after the name line, served by %s while %s was removed",
                kept.name(), removed.name()).isEqualTo(Long.toString(BULK_BYTES));
    }

    @Test
    @Order(10)
    @Timeout(60)
    void cleanupRemovesThePortalChains() {
        daemon.stop();
        Command.Outcome o = Command.run(Lab.inside(lab.node(), "java", "-jar", Daemon.jar().toString(), "--cleanup"),
                null, Duration.ofSeconds(40));
        assertThat(o.exit()).as("pointsman --cleanup: %s", o).isZero();
        assertThat(lab.nodeRules()).doesNotContain("KUBE-PORTALS");
    }

    private void report(String what) {
        StringBuilder b = new StringBuilder("\n======== pointsman userspace lab report: ").append(what).append(" ========\n");
        if (daemon != null) {
            b.append(daemon.describe()).append('\n');
        }
        if (lab != null) {
            b.append("---- iptables-save -c in node namespace ").append(lab.node().name()).append(" ----\n")
                    .append(lab.nodeRules());
            b.append("---- sockets in the node namespace ----\n")
                    .append(lab.node().execStatus(null, "ss", "-ltnup").output());
        }
        b.append("======== end of report ========");
        System.out.println(b);
    }
}
