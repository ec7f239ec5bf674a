package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pointsman.core.testing.Kernel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * End to end, iptables mode: the packaged daemon runs as a process inside the lab's node
 * namespace, watches fabric8's mock API server through a loopback relay, programs the node's
 * netfilter with the real iptables-restore, and real TCP/UDP from the client namespace reaches
 * the pods through ClusterIPs and NodePorts.
 *
 * All API objects exist before the daemon starts, so its first sync covers all of them. Each
 * test uses its own service, so the tests do not depend on their order. On any failure the
 * daemon's command line and log and the node's iptables-save are printed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class IptablesModeEndToEndTest {
    private static final String NODE_NAME = "lab-node";
    private static final ClusterObjects.Port HTTP =
            new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 30080);
    private static final ClusterObjects.Port DNS =
            new ClusterObjects.Port("dns", "UDP", 53, Lab.POD_UDP_PORT, 30053);
    private static final ClusterObjects.Port HTTP_ONLY =
            new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 0);
    /** NodePort service "web": TCP and UDP, both pods. */
    private static final String WEB_IP = "10.96.0.10";
    /** ClusterIP service "drain": both pods, then one endpoint is removed. */
    private static final String DRAIN_IP = "10.96.0.11";
    /** ClusterIP service "empty": no EndpointSlice at all. */
    private static final String EMPTY_IP = "10.96.0.12";

    private RunDir runDir;
    private Lab lab;
    private MockApi api;
    private Daemon daemon;
    /** null: not waited for yet; FALSE: the wait failed; TRUE: synced. */
    private Boolean firstSync;

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
            api = MockApi.start();
            createObjects(api.client());
            Path kubeconfig = lab.connectApi(api.port());
            daemon = Daemon.start(lab, jar, kubeconfig, NODE_NAME,
                    "--iptables-min-sync-period", "1s", "--iptables-sync-period", "30s", "-v", "2");
            await("the daemon's metrics server answering /proxyMode").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .failFast("the daemon exited", () -> !daemon.alive())
                    .until(() -> Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/proxyMode").status() == 200);
        } catch (RuntimeException | Error e) {
            report("lab setup failed: " + e);
            stopEverything();
            throw e;
        }
    }

    /**
     * Waits (once) for the daemon's first sync: done when the ClusterIP of "web" leads to a pod.
     * Every object exists before the daemon starts, so that sync covers all of them.
     */
    private void awaitFirstSync() {
        if (Boolean.TRUE.equals(firstSync)) {
            return;
        }
        // A failed wait is not repeated by every later test: the run stays short.
        assertThat(firstSync).as("the daemon's first sync already failed to show in an earlier test").isNull();
        firstSync = Boolean.FALSE;
        await("the first sync: TCP to " + WEB_IP + ":80 answered by a pod").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300))
                .failFast("the daemon exited", () -> !daemon.alive())
                .until(() -> Probe.tcp(lab.client(), WEB_IP, 80, Duration.ofSeconds(1)).answered());
        firstSync = Boolean.TRUE;
    }

    private void createObjects(KubernetesClient client) {
        List<Lab.Pod> pods = lab.pods();
        client.nodes().resource(ClusterObjects.node(NODE_NAME, Lab.NODE_IP)).create();
        client.services().resource(ClusterObjects.service("web", WEB_IP, HTTP, DNS)).create();
        client.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("web", "web-1", NODE_NAME, pods, HTTP, DNS)).create();
        client.services().resource(ClusterObjects.service("drain", DRAIN_IP, HTTP_ONLY)).create();
        client.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("drain", "drain-1", NODE_NAME, pods, HTTP_ONLY)).create();
        client.services().resource(ClusterObjects.service("empty", EMPTY_IP, HTTP_ONLY)).create();
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
    @Timeout(60)
    void metricsServerAnswersProxyModeAndSyncMetrics() {
        Probe.HttpReply mode = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/proxyMode");
        assertThat(mode.status()).isEqualTo(200);
        assertThat(mode.body().strip()).isEqualTo("iptables");

        awaitFirstSync();
        Probe.HttpReply metrics = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/metrics");
        assertThat(metrics.status()).isEqualTo(200);
        assertThat(metrics.body()).contains("kubeproxy_sync_proxy_rules_duration_seconds");
    }

    @Test
    @Timeout(60)
    void clusterIpTcpReachesBothPods() {
        awaitFirstSync();
        List<Probe.Answer> answers = Probe.tcp(lab.client(), WEB_IP, 80, 40);
        assertThat(Probe.tally(answers)).as("40 TCP connections to %s:80", WEB_IP)
                .containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Timeout(60)
    void nodePortTcpReachesBothPods() {
        awaitFirstSync();
        List<Probe.Answer> answers = Probe.tcp(lab.client(), Lab.NODE_IP, HTTP.nodePort(), 40);
        assertThat(Probe.tally(answers)).as("40 TCP connections to %s:%d", Lab.NODE_IP, HTTP.nodePort())
                .containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Timeout(60)
    void clusterIpUdpReachesBothPods() {
        awaitFirstSync();
        List<Probe.Answer> answers = Probe.udp(lab.client(), WEB_IP, 53, 24);
        assertThat(Probe.tally(answers)).as("24 UDP exchanges with %s:53, each from a fresh port", WEB_IP)
                .containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Timeout(60)
    void removedEndpointGetsNoNewConnections() {
        awaitFirstSync();
        assertThat(Probe.tally(Probe.tcp(lab.client(), DRAIN_IP, 80, 30)))
                .as("before the change, TCP to %s:80", DRAIN_IP).containsOnlyKeys("pod-a", "pod-b");

        Lab.Pod kept = lab.pod("pod-a");
        Lab.Pod removed = lab.pod("pod-b");
        // Replace (PUT) the slice with pod-a only. Not a JSON merge patch: the 7.8.0 mock appends
        // array elements on merge instead of replacing the array (RFC 7386), so pod-b would stay.
        var slices = api.client().discovery().v1().endpointSlices().inNamespace(ClusterObjects.NAMESPACE);
        EndpointSlice current = slices.withName("drain-1").get();
        slices.resource(new EndpointSliceBuilder(current)
                .withEndpoints(ClusterObjects.endpoint(kept, NODE_NAME)).build()).update();
        assertThat(slices.withName("drain-1").get().getEndpoints()).as("stored endpoints of drain-1")
                .singleElement().satisfies(e -> assertThat(e.getAddresses()).containsExactly(kept.ip()));
        long changedAt = System.nanoTime();

        await("no new connection to " + DRAIN_IP + ":80 reaches " + removed.name())
                .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(250))
                .untilAsserted(() -> assertThat(Probe.tally(Probe.tcp(lab.client(), DRAIN_IP, 80, 20)))
                        .as("20 TCP connections to %s:80", DRAIN_IP).containsOnlyKeys(kept.name()));
        System.out.printf("[lab] endpoint removal took effect within %d ms%n",
                Duration.ofNanos(System.nanoTime() - changedAt).toMillis());

        // The pod itself still serves: it is the proxy that stopped sending to it.
        assertThat(Probe.tcp(lab.client(), removed.ip(), Lab.POD_TCP_PORT, Duration.ofSeconds(2)).reply())
                .isEqualTo(removed.name());
    }

    @Test
    @Timeout(60)
    void serviceWithoutEndpointsIsRefusedAtOnce() {
        awaitFirstSync();
        for (int i = 0; i < 5; i++) {
            Probe.Answer a = Probe.tcp(lab.client(), EMPTY_IP, 80, Duration.ofSeconds(3));
            assertThat(a.answered()).as("TCP to %s:80 (no endpoints): %s", EMPTY_IP, a).isFalse();
            assertThat(a.error()).as("TCP to %s:80 (no endpoints)", EMPTY_IP).contains("Connection refused");
            assertThat(a.elapsed()).as("time to refusal: %s", a).isLessThan(Duration.ofSeconds(1));
        }
        // Upstream layout: the refusal is a REJECT for that address in the filter table.
        String rules = lab.nodeRules();
        int start = rules.indexOf("*filter");
        String filter = start < 0 ? "" : rules.substring(start, rules.indexOf("COMMIT", start));
        assertThat(filter.lines().filter(l -> l.contains("-d " + EMPTY_IP + "/32") && l.contains("-j REJECT")))
                .as("a filter REJECT rule for %s in:%n%s", EMPTY_IP, rules).isNotEmpty();
    }

    /** Everything needed to tell what went wrong: daemon command line and log, node rules. */
    private void report(String what) {
        StringBuilder b = new StringBuilder("\n======== pointsman lab report: ").append(what).append(" ========\n");
        if (daemon != null) {
            b.append(daemon.describe()).append('\n');
        }
        if (lab != null) {
            b.append("---- iptables-save -c in node namespace ").append(lab.node().name()).append(" ----\n")
                    .append(lab.nodeRules());
            b.append("---- relay.log ----\n").append(runDir.read("relay.log")).append('\n');
        }
        b.append("======== end of report ========");
        System.out.println(b);
    }
}
