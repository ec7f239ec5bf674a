package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pointsman.core.testing.Kernel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * End to end, nftables mode: the packaged daemon runs with {@code --proxy-mode nftables} inside
 * the lab's node namespace, writes its own {@code ip pointsman} table (structure through nft,
 * element changes through netlink), and real TCP/UDP from the client namespace reaches the pods
 * through ClusterIPs and NodePorts: balancing, UDP, externalTrafficPolicy Local keeping the
 * client's address, REJECT without endpoints, ClientIP affinity, an endpoint removed, and a
 * restart during which no connection fails. Each test has its own Service; the restart runs last.
 * On any failure the daemon's log and the node's nftables ruleset are printed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NftablesModeEndToEndTest {
    private static final String NODE_NAME = "lab-node";
    private static final String OTHER_NODE = "other-node";
    private static final ClusterObjects.Port HTTP = new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 30080);
    private static final ClusterObjects.Port DNS = new ClusterObjects.Port("dns", "UDP", 53, Lab.POD_UDP_PORT, 30053);
    private static final ClusterObjects.Port HTTP_ONLY = new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 0);
    private static final ClusterObjects.Port PEER_LOCAL = new ClusterObjects.Port("peer", "TCP", 80, Lab.POD_PEER_PORT, 30081);
    private static final ClusterObjects.Port PEER_CLUSTER = new ClusterObjects.Port("peer", "TCP", 80, Lab.POD_PEER_PORT, 30082);
    /** NodePort "web": TCP and UDP, both pods. */
    private static final String WEB_IP = "10.96.3.10";
    /** ClusterIP "drain": both pods, then one endpoint is removed. */
    private static final String DRAIN_IP = "10.96.3.11";
    /** ClusterIP "empty": no endpoints. */
    private static final String EMPTY_IP = "10.96.3.12";
    /** ClusterIP "sticky": ClientIP affinity. */
    private static final String STICKY_IP = "10.96.3.13";
    /** NodePort "local": externalTrafficPolicy Local, pod-a on this node, pod-b elsewhere. */
    private static final String LOCAL_IP = "10.96.3.14";
    /** NodePort "spread": the same peer-echo pods with externalTrafficPolicy Cluster. */
    private static final String SPREAD_IP = "10.96.3.15";

    private RunDir runDir;
    private Lab lab;
    private MockApi api;
    private String[] flags;
    private Path jar;
    private final List<DaemonProcess> daemons = new ArrayList<>();
    private Boolean firstSync;

    @RegisterExtension
    final TestWatcher reportOnFailure = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            report(context.getDisplayName() + " failed: " + cause);
        }
    };

    @BeforeAll
    @Timeout(180)
    void startLabAndDaemon() {
        Kernel.require("ip", "nft", "socat");
        jar = Daemon.jar();
        try {
            runDir = RunDir.create();
            lab = Lab.create(runDir);
            lab.startPeerEchoServers();
            api = MockApi.start();
            createObjects(api.client());
            ApiRelay relay = ApiRelay.connect(lab, api.port());
            List<String> f = new ArrayList<>(DaemonProcess.baseFlags(relay.kubeconfig("kubeconfig", "lab-token"), NODE_NAME));
            f.addAll(List.of("--proxy-mode", "nftables", "--metrics-bind-address", Daemon.METRICS_ADDRESS,
                    "--healthz-bind-address", Daemon.HEALTHZ_ADDRESS, "-v", "2"));
            flags = f.toArray(new String[0]);
            daemons.add(DaemonProcess.start(lab, jar, Map.of(), "pointsman-1.log", flags));
        } catch (RuntimeException | Error e) {
            report("lab setup failed: " + e);
            stopEverything();
            throw e;
        }
    }

    private DaemonProcess daemon() {
        return daemons.get(daemons.size() - 1);
    }

    private void createObjects(KubernetesClient k) {
        List<Lab.Pod> pods = lab.pods();
        Lab.Pod a = lab.pod("pod-a");
        Lab.Pod b = lab.pod("pod-b");
        k.nodes().resource(ClusterObjects.node(NODE_NAME, Lab.NODE_IP)).create();
        k.services().resource(ClusterObjects.service("web", WEB_IP, HTTP, DNS)).create();
        k.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("web", "web-1", NODE_NAME, pods, HTTP, DNS)).create();
        k.services().resource(ClusterObjects.service("drain", DRAIN_IP, HTTP_ONLY)).create();
        k.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("drain", "drain-1", NODE_NAME, pods, HTTP_ONLY)).create();
        k.services().resource(ClusterObjects.service("empty", EMPTY_IP, HTTP_ONLY)).create();
        Service sticky = new ServiceBuilder(ClusterObjects.service("sticky", STICKY_IP, HTTP_ONLY)).editSpec()
                .withSessionAffinity("ClientIP").withNewSessionAffinityConfig().withNewClientIP().withTimeoutSeconds(600)
                .endClientIP().endSessionAffinityConfig().endSpec().build();
        k.services().resource(sticky).create();
        k.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSlice("sticky", "sticky-1", NODE_NAME, pods, HTTP_ONLY)).create();
        // A LoadBalancer (no ingress IP yet) for its health-check node port, which only those have.
        Service local = new ServiceBuilder(ClusterObjects.service("local", LOCAL_IP, PEER_LOCAL)).editSpec()
                .withType("LoadBalancer").withExternalTrafficPolicy("Local").withHealthCheckNodePort(32100).endSpec()
                .build();
        k.services().resource(local).create();
        // pod-a runs on this node, pod-b on another one.
        List<io.fabric8.kubernetes.api.model.discovery.v1.Endpoint> spreadOut =
                List.of(ClusterObjects.endpoint(a, NODE_NAME), ClusterObjects.endpoint(b, OTHER_NODE));
        k.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSliceOf("local", "local-1", "IPv4", spreadOut, PEER_LOCAL)).create();
        k.services().resource(ClusterObjects.service("spread", SPREAD_IP, PEER_CLUSTER)).create();
        k.discovery().v1().endpointSlices()
                .resource(ClusterObjects.endpointSliceOf("spread", "spread-1", "IPv4", spreadOut, PEER_CLUSTER)).create();
    }

    /** Waits (once) for the first sync: its log line, and the ClusterIP of "web" leading to a pod. */
    private void awaitFirstSync() {
        if (Boolean.TRUE.equals(firstSync)) {
            return;
        }
        assertThat(firstSync).as("the daemon's first sync already failed to show in an earlier test").isNull();
        firstSync = Boolean.FALSE;
        DaemonProcess d = daemon();
        await("the first sync: its log line, then TCP to " + WEB_IP + ":80 answered by a pod")
                .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300))
                .failFast("the daemon exited", () -> !d.alive())
                .until(() -> !d.logLines("full sync:").isEmpty()
                        && Probe.tcp(lab.client(), WEB_IP, 80, Duration.ofSeconds(1)).answered());
        firstSync = Boolean.TRUE;
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
    @Timeout(90)
    void proxyModeMetricsAndTheTableItWrote() {
        awaitFirstSync();
        Probe.HttpReply mode = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/proxyMode");
        assertThat(mode.status()).isEqualTo(200);
        assertThat(mode.body().strip()).isEqualTo("nftables");
        String metrics = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/metrics").body();
        assertThat(metrics).contains("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}",
                "pointsman_nftables_elements{ip_family=\"IPv4\"}",
                "kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family=\"IPv4\",traffic_policy=\"external\"} 0");
        assertThat(metrics).doesNotContain("kubeproxy_sync_proxy_rules_nftables_sync_failures_total");
        String table = lab.node().exec("nft", "list", "table", "ip", "pointsman");
        assertThat(table).contains("map service-ips", WEB_IP + " . tcp . 80 : goto lb-2", "chain lb-2");
        // No iptables rules: this mode writes nftables only.
        assertThat(lab.node().exec("nft", "list", "tables")).doesNotContain("kube-proxy");
        // The packaged jar's netlink door works (jnr-ffi's native stub is in it): no fallback to nft alone.
        assertThat(daemon().logLines("netlink unavailable")).isEmpty();
    }

    @Test
    @Timeout(90)
    void clusterIpTcpReachesBothPods() {
        awaitFirstSync();
        assertThat(Probe.tally(Probe.tcp(lab.client(), WEB_IP, 80, 40))).as("40 TCP connections to %s:80", WEB_IP)
                .containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Timeout(90)
    void nodePortTcpReachesBothPods() {
        awaitFirstSync();
        assertThat(Probe.tally(Probe.tcp(lab.client(), Lab.NODE_IP, HTTP.nodePort(), 40)))
                .as("40 TCP connections to %s:%d", Lab.NODE_IP, HTTP.nodePort()).containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Timeout(90)
    void clusterIpUdpReachesBothPods() {
        awaitFirstSync();
        assertThat(Probe.tally(Probe.udp(lab.client(), WEB_IP, 53, 24)))
                .as("24 UDP exchanges with %s:53, each from a fresh port", WEB_IP).containsOnlyKeys("pod-a", "pod-b");
    }

    @Test
    @Timeout(90)
    void externalTrafficPolicyLocalKeepsTheClientAddressOnTheLocalEndpoint() {
        awaitFirstSync();
        List<Probe.Answer> local = Probe.tcp(lab.client(), Lab.NODE_IP, PEER_LOCAL.nodePort(), 20);
        assertThat(Probe.tally(local)).as("20 connections to the Local-policy NodePort %s:%d", Lab.NODE_IP,
                PEER_LOCAL.nodePort()).containsOnlyKeys("pod-a " + Lab.CLIENT_IP);
        // The same pods behind a Cluster-policy NodePort: both pods, the client masqueraded.
        List<Probe.Answer> spread = Probe.tcp(lab.client(), Lab.NODE_IP, PEER_CLUSTER.nodePort(), 30);
        assertThat(Probe.tally(spread)).as("30 connections to the Cluster-policy NodePort").hasSize(2)
                .allSatisfy((reply, n) -> assertThat(reply).doesNotContain(Lab.CLIENT_IP).doesNotStartWith("error"));
        // Pods reach the Local-policy NodePort too (short-circuit to every endpoint).
        Lab.Pod b = lab.pod("pod-b");
        assertThat(Probe.tally(Probe.tcp(b.ns(), LOCAL_IP, 80, 10))).as("pod-b to the ClusterIP of \"local\"")
                .allSatisfy((reply, n) -> assertThat(reply).startsWith("pod-"));
        String table = lab.node().exec("nft", "list", "set", "ip", "pointsman", "health-check-nodeports");
        assertThat(table).contains("32100");
    }

    @Test
    @Timeout(90)
    void serviceWithoutEndpointsIsRefusedAtOnce() {
        awaitFirstSync();
        for (int i = 0; i < 5; i++) {
            Probe.Answer a = Probe.tcp(lab.client(), EMPTY_IP, 80, Duration.ofSeconds(3));
            assertThat(a.answered()).as("TCP to %s:80 (no endpoints): %s", EMPTY_IP, a).isFalse();
            assertThat(a.error()).as("TCP to %s:80 (no endpoints)", EMPTY_IP).contains("Connection refused");
            assertThat(a.elapsed()).as("time to refusal: %s", a).isLessThan(Duration.ofSeconds(1));
        }
        assertThat(lab.node().exec("nft", "list", "map", "ip", "pointsman", "no-endpoint-services"))
                .contains(EMPTY_IP + " . tcp . 80 : goto reject-chain");
    }

    @Test
    @Timeout(90)
    void clientIpAffinityKeepsAClientOnOneEndpoint() {
        awaitFirstSync();
        List<Probe.Answer> answers = Probe.tcp(lab.client(), STICKY_IP, 80, 20);
        assertThat(Probe.tally(answers)).as("20 TCP connections to %s:80 with ClientIP affinity", STICKY_IP).hasSize(1)
                .allSatisfy((reply, n) -> assertThat(reply).startsWith("pod-"));
        // Another client is free to land elsewhere, yet sticks as well.
        Lab.Pod a = lab.pod("pod-a");
        assertThat(Probe.tally(Probe.tcp(a.ns(), STICKY_IP, 80, 10))).as("pod-a as a client").hasSize(1);
    }

    @Test
    @Timeout(90)
    void removedEndpointGetsNoNewConnections() {
        awaitFirstSync();
        assertThat(Probe.tally(Probe.tcp(lab.client(), DRAIN_IP, 80, 30))).as("before the change, TCP to %s:80", DRAIN_IP)
                .containsOnlyKeys("pod-a", "pod-b");
        Lab.Pod kept = lab.pod("pod-a");
        Lab.Pod removed = lab.pod("pod-b");
        var slices = api.client().discovery().v1().endpointSlices().inNamespace(ClusterObjects.NAMESPACE);
        EndpointSlice current = slices.withName("drain-1").get();
        slices.resource(new EndpointSliceBuilder(current).withEndpoints(ClusterObjects.endpoint(kept, NODE_NAME)).build())
                .update();
        long changedAt = System.nanoTime();
        await("no new connection to " + DRAIN_IP + ":80 reaches " + removed.name())
                .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(250))
                .untilAsserted(() -> assertThat(Probe.tally(Probe.tcp(lab.client(), DRAIN_IP, 80, 20)))
                        .as("20 TCP connections to %s:80", DRAIN_IP).containsOnlyKeys(kept.name()));
        System.out.printf("[nft lab] endpoint removal took effect within %d ms; sync lines: %s%n",
                Duration.ofNanos(System.nanoTime() - changedAt).toMillis(), daemon().logLines("partial sync:"));
        // A partial sync of that one service port, without reading the kernel back.
        assertThat(daemon().logLines("partial sync:")).anySatisfy(l -> assertThat(l).contains("1 changed, 1 written",
                "readBack 0"));
        assertThat(Probe.tcp(lab.client(), removed.ip(), Lab.POD_TCP_PORT, Duration.ofSeconds(2)).reply())
                .isEqualTo(removed.name());
    }

    @Test
    @Order(Integer.MAX_VALUE)
    @Timeout(180)
    void aRestartedDaemonTakesOverWithoutAFailedConnection() throws Exception {
        awaitFirstSync();
        String before = table();
        ClientLoop loop = new ClientLoop(lab.client(), List.of(WEB_IP + ":80", Lab.NODE_IP + ":" + HTTP.nodePort()),
                20_000, Duration.ofSeconds(120), Duration.ofSeconds(2)).pause(Duration.ofMillis(20)).start();
        Thread.sleep(1_500);
        daemon().stop();
        long stoppedAt = loop.nowMs();
        Thread.sleep(2_000);
        String duringGap = table();
        DaemonProcess second = DaemonProcess.start(lab, jar, Map.of(), "pointsman-2.log", flags);
        daemons.add(second);
        await("the restarted daemon's first sync").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .failFast("the restarted daemon exited", () -> !second.alive())
                .until(() -> !second.logLines("full sync:").isEmpty());
        long syncedAt = loop.nowMs();
        Thread.sleep(2_000);
        ClientLoop.Outcome traffic = loop.stop();
        long inGap = traffic.attempts().stream().filter(x -> x.startedMs() >= stoppedAt && x.startedMs() < syncedAt).count();
        System.out.printf("[nft lab] restart: %s; %d connections while no daemon ran or before its first sync%n",
                traffic, inGap);
        System.out.println("[nft lab] restarted daemon: " + second.logLines("sync:"));

        assertThat(traffic.failures()).as("connections that failed, of %s", traffic).isEmpty();
        assertThat(inGap).as("connections between the stop and the successor's first sync").isPositive();
        assertThat(Set.copyOf(traffic.tally().keySet())).isEqualTo(Set.of("pod-a", "pod-b"));
        assertThat(duringGap).as("the table while no daemon ran").isEqualTo(before);
        assertThat(table()).as("the table after the successor's first sync").isEqualTo(before);
        // The successor read the table back: no element written or deleted, only rules rewritten.
        assertThat(second.logLines("full sync:")).first().asString()
                .contains("readBack 1", "elementsAdded 0", "elementsDeleted 0");
        assertThat(second.logLines("sync failed")).isEmpty();
    }

    /** The node's table, without the remaining lifetimes of affinity entries (they tick). */
    private String table() {
        return lab.node().exec("nft", "list", "table", "ip", "pointsman").replaceAll(" expires [0-9a-z]+", "");
    }

    private void report(String what) {
        StringBuilder b = new StringBuilder("\n======== pointsman nftables lab report: ").append(what).append(" ========\n");
        for (DaemonProcess d : daemons) {
            b.append(d.describe()).append('\n');
        }
        if (lab != null) {
            try {
                b.append("---- nft list ruleset in ").append(lab.node().name()).append(" ----\n")
                        .append(lab.node().exec("nft", "list", "ruleset"));
            } catch (RuntimeException e) {
                b.append("(nft list ruleset failed: ").append(e.getMessage()).append(")\n");
            }
        }
        b.append("======== end of report ========");
        System.out.println(b);
    }
}
