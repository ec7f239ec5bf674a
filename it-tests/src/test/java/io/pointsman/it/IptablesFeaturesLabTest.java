package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * End to end, iptables mode, the features beyond plain ClusterIP/NodePort, with real traffic in a
 * dual-stack lab: externalTrafficPolicy Local (client source kept, local pods only) and its
 * health-check NodePort, ClientIP affinity and its expiry, loadBalancerSourceRanges, localhost
 * NodePorts, stale UDP flows after an endpoint change, and an IPv6 ClusterIP next to IPv4.
 *
 * <p>The pods run {@link PeerEchoServer} ("name peer-ip" on {@link Lab#POD_PEER_PORT}) besides the
 * lab's usual servers. pod-a is on this node ("lab-node"); for the Local-policy Services pod-b is
 * declared on another node ("lab-node-2"): the lab routes to it all the same, so only the proxy's
 * choice keeps traffic off it. A third pod, pod-c, gives the affinity test three endpoints. Each
 * test has its own Service, so the order does not matter.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class IptablesFeaturesLabTest {
    private static final String NODE_NAME = "lab-node";
    private static final String OTHER_NODE = "lab-node-2";
    /** A second source address of the client namespace, outside every source range. */
    private static final String CLIENT_IP_2 = "192.168.77.3";

    private static final ClusterObjects.Port PEER = new ClusterObjects.Port("peer", "TCP", 80, Lab.POD_PEER_PORT, 0);
    private static final ClusterObjects.Port DNS = new ClusterObjects.Port("dns", "UDP", 53, Lab.POD_UDP_PORT, 0);

    /** LoadBalancer, externalTrafficPolicy Local: pod-a here, pod-b on the other node. */
    private static final String LOCAL_IP = "10.96.1.10";
    private static final int LOCAL_NODE_PORT = 30081;
    /** The same Service with externalTrafficPolicy Cluster, to show what Local changes. */
    private static final String CLUSTER_POLICY_IP = "10.96.1.11";
    private static final int CLUSTER_POLICY_NODE_PORT = 30082;
    /** LoadBalancer, Local, whose health check goes from 200 to 503. */
    private static final String HC_IP = "10.96.1.12";
    private static final int HC_NODE_PORT = 30083;
    private static final int HC_HEALTH_PORT = 32083;
    /** ClientIP affinity with a short timeout. */
    private static final String AFFINITY_IP = "10.96.1.20";
    private static final int AFFINITY_TIMEOUT = 3;
    /** LoadBalancer with loadBalancerSourceRanges admitting the client's first address only. */
    private static final String RANGES_IP = "10.96.1.30";
    private static final String RANGES_LB_IP = "192.168.80.30";
    private static final int RANGES_NODE_PORT = 30084;
    /** NodePort for the localhost test. */
    private static final String LOCALHOST_IP = "10.96.1.40";
    private static final int LOCALHOST_NODE_PORT = 30085;
    /** A server on the node's loopback that the network must not reach. */
    private static final int LOOPBACK_SERVER_PORT = 10999;
    /** UDP, one endpoint that moves from pod-a to pod-b. */
    private static final String FLIP_IP = "10.96.1.50";
    /** Dual-stack ClusterIP. */
    private static final String DUAL_IP4 = "10.96.1.60";
    private static final String DUAL_IP6 = "fd00:96::60";

    private RunDir runDir;
    private Lab lab;
    private MockApi api;
    private Daemon daemon;

    @RegisterExtension
    final TestWatcher reportOnFailure = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            report(context.getDisplayName() + " failed: " + cause);
        }
    };

    @BeforeAll
    @Timeout(150)
    void startLabAndDaemon() {
        Kernel.require("ip", "iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save", "socat",
                "conntrack");
        Path jar = Daemon.jar();
        try {
            runDir = RunDir.create();
            lab = Lab.create(runDir);
            lab.addExtraPod("pod-c", "10.244.1.4");
            lab.enableIpv6();
            lab.client().exec("ip", "addr", "add", CLIENT_IP_2 + "/24", "dev", "eth0");
            lab.startPeerEchoServers();
            api = MockApi.start();
            createObjects(api.client());
            Path kubeconfig = lab.connectApi(api.port());
            daemon = Daemon.startWithClusterCidr(lab, jar, kubeconfig, NODE_NAME,
                    Lab.CLUSTER_CIDR + "," + Lab.CLUSTER_CIDR6,
                    "--iptables-min-sync-period", "1s", "--iptables-sync-period", "30s", "-v", "2");
            await("the daemon's first sync: TCP to " + LOCALHOST_IP + ":80 answered by a pod")
                    .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300))
                    .failFast("the daemon exited", () -> !daemon.alive())
                    .until(() -> Probe.tcp(lab.client(), LOCALHOST_IP, 80, Duration.ofSeconds(1)).answered());
        } catch (RuntimeException | Error e) {
            report("lab setup failed: " + e);
            stopEverything();
            throw e;
        }
    }

    private void createObjects(KubernetesClient client) {
        Lab.Pod a = lab.pod("pod-a");
        Lab.Pod b = lab.pod("pod-b");
        client.nodes().resource(ClusterObjects.node(NODE_NAME, Lab.NODE_IP)).create();

        create(client, loadBalancer("local", LOCAL_IP, LOCAL_NODE_PORT, "Local", 32081, null, List.of()),
                ipv4Slice("local", List.of(ClusterObjects.endpoint(a, NODE_NAME), ClusterObjects.endpoint(b, OTHER_NODE)),
                        PEER));
        create(client, loadBalancer("cluster-policy", CLUSTER_POLICY_IP, CLUSTER_POLICY_NODE_PORT, "Cluster", 0, null,
                        List.of()),
                ipv4Slice("cluster-policy", List.of(ClusterObjects.endpoint(a, NODE_NAME),
                        ClusterObjects.endpoint(b, OTHER_NODE)), PEER));
        create(client, loadBalancer("hc", HC_IP, HC_NODE_PORT, "Local", HC_HEALTH_PORT, null, List.of()),
                ipv4Slice("hc", List.of(ClusterObjects.endpoint(a, NODE_NAME), ClusterObjects.endpoint(b, OTHER_NODE)),
                        PEER));

        Service affinity = new ServiceBuilder(ClusterObjects.service("affinity", AFFINITY_IP, PEER)).editSpec()
                .withSessionAffinity("ClientIP").withNewSessionAffinityConfig().withNewClientIP()
                .withTimeoutSeconds(AFFINITY_TIMEOUT).endClientIP().endSessionAffinityConfig().endSpec().build();
        // Three endpoints, so that a choice made afresh moves the client with odds of 2 in 3.
        create(client, affinity, ClusterObjects.endpointSlice("affinity", "affinity-1", NODE_NAME, lab.pods(), PEER));

        create(client, loadBalancer("ranges", RANGES_IP, RANGES_NODE_PORT, "Cluster", 0, RANGES_LB_IP,
                        List.of(Lab.CLIENT_IP + "/32")),
                ClusterObjects.endpointSlice("ranges", "ranges-1", NODE_NAME, lab.pods(), PEER));

        ClusterObjects.Port localhostPort = new ClusterObjects.Port("peer", "TCP", 80, Lab.POD_PEER_PORT,
                LOCALHOST_NODE_PORT);
        create(client, ClusterObjects.service("localhost", LOCALHOST_IP, localhostPort),
                ClusterObjects.endpointSlice("localhost", "localhost-1", NODE_NAME, lab.pods(), localhostPort));

        create(client, ClusterObjects.service("flip", FLIP_IP, DNS),
                ClusterObjects.endpointSlice("flip", "flip-1", NODE_NAME, List.of(a), DNS));

        Service dual = new ServiceBuilder(ClusterObjects.service("dual", DUAL_IP4, PEER)).editSpec()
                .withClusterIPs(DUAL_IP4, DUAL_IP6).withIpFamilies("IPv4", "IPv6")
                .withIpFamilyPolicy("RequireDualStack").endSpec().build();
        create(client, dual, ClusterObjects.endpointSlice("dual", "dual-v4", NODE_NAME, List.of(a, b), PEER));
        client.discovery().v1().endpointSlices().resource(ClusterObjects.endpointSliceOf("dual", "dual-v6", "IPv6",
                List.of(ClusterObjects.endpoint(a, lab.ipv6(a), NODE_NAME),
                        ClusterObjects.endpoint(b, lab.ipv6(b), NODE_NAME)), PEER)).create();
    }

    private static void create(KubernetesClient client, Service service, EndpointSlice slice) {
        client.services().resource(service).create();
        client.discovery().v1().endpointSlices().resource(slice).create();
    }

    /**
     * A LoadBalancer Service on {@link Lab#POD_PEER_PORT}, as the API server would store it.
     *
     * @param healthCheckNodePort 0 for none (externalTrafficPolicy Cluster)
     * @param ingressIp status.loadBalancer.ingress[0].ip, null for none
     */
    private static Service loadBalancer(String name, String clusterIp, int nodePort, String externalPolicy,
            int healthCheckNodePort, String ingressIp, List<String> sourceRanges) {
        ServiceBuilder b = new ServiceBuilder()
                .withNewMetadata().withName(name).withNamespace(ClusterObjects.NAMESPACE).endMetadata()
                .withNewSpec()
                .withType("LoadBalancer")
                .withClusterIP(clusterIp).withClusterIPs(clusterIp)
                .withIpFamilies("IPv4").withIpFamilyPolicy("SingleStack")
                .withSessionAffinity("None")
                .withInternalTrafficPolicy("Cluster")
                .withExternalTrafficPolicy(externalPolicy)
                .withAllocateLoadBalancerNodePorts(true)
                .withLoadBalancerSourceRanges(sourceRanges)
                .addNewPort().withName(PEER.name()).withProtocol("TCP").withPort(PEER.port())
                .withTargetPort(new IntOrString(PEER.targetPort())).withNodePort(nodePort).endPort()
                .endSpec();
        if (healthCheckNodePort != 0) {
            b.editSpec().withHealthCheckNodePort(healthCheckNodePort).endSpec();
        }
        if (ingressIp != null) {
            b.withNewStatus().withNewLoadBalancer().addNewIngress().withIp(ingressIp).withIpMode("VIP").endIngress()
                    .endLoadBalancer().endStatus();
        }
        return b.build();
    }

    private static EndpointSlice ipv4Slice(String service, List<Endpoint> endpoints, ClusterObjects.Port... ports) {
        return ClusterObjects.endpointSliceOf(service, service + "-1", "IPv4", endpoints, ports);
    }

    /** Replaces (PUT) a slice's endpoints: the 7.8.0 mock appends array elements on a merge patch. */
    private void replaceEndpoints(String slice, Endpoint... endpoints) {
        var slices = api.client().discovery().v1().endpointSlices().inNamespace(ClusterObjects.NAMESPACE);
        EndpointSlice current = slices.withName(slice).get();
        slices.resource(new EndpointSliceBuilder(current).withEndpoints(endpoints).build()).update();
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

    // ---- externalTrafficPolicy: Local ----

    @Test
    @Timeout(60)
    void externalLocalKeepsTheClientAddressAndUsesLocalPodsOnly() {
        List<Probe.Answer> local = Probe.tcp(lab.client(), Lab.NODE_IP, LOCAL_NODE_PORT, 20);
        assertThat(Probe.tally(local)).as("20 connections to NodePort %d (externalTrafficPolicy Local)", LOCAL_NODE_PORT)
                .containsOnlyKeys("pod-a " + Lab.CLIENT_IP);

        // The same endpoints with policy Cluster: both pods, and the pods see the node's address.
        List<Probe.Answer> cluster = Probe.tcp(lab.client(), Lab.NODE_IP, CLUSTER_POLICY_NODE_PORT, 20);
        assertThat(Probe.tally(cluster)).as("20 connections to NodePort %d (externalTrafficPolicy Cluster)",
                CLUSTER_POLICY_NODE_PORT).containsOnlyKeys("pod-a " + Lab.POD_GATEWAY, "pod-b " + Lab.POD_GATEWAY);
    }

    @Test
    @Timeout(60)
    void healthCheckNodePortAnswersTheLocalCountThen503WithNone() {
        String address = Lab.NODE_IP + ":" + HC_HEALTH_PORT;
        String raw = awaitHealthCheck(address, 200);
        Probe.HttpReply ok = Probe.parse(raw, address);
        assertThat(ok.body()).isEqualTo("{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"hc\"\n"
                + "\t},\n\t\"localEndpoints\": 1,\n\t\"serviceProxyHealthy\": true\n}");
        String headers = raw.substring(0, raw.indexOf("\r\n\r\n")).toLowerCase(Locale.ROOT);
        assertThat(headers).contains("\r\ncontent-type: application/json")
                .contains("\r\nx-content-type-options: nosniff")
                .contains("\r\nx-load-balancing-endpoint-weight: 1");
        assertThat(Probe.tally(Probe.tcp(lab.client(), Lab.NODE_IP, HC_NODE_PORT, 5)))
                .containsOnlyKeys("pod-a " + Lab.CLIENT_IP);

        // pod-a moves away: no local endpoint is left, the load balancer must drain this node.
        replaceEndpoints("hc-1", ClusterObjects.endpoint(lab.pod("pod-a"), OTHER_NODE),
                ClusterObjects.endpoint(lab.pod("pod-b"), OTHER_NODE));
        String drained = awaitHealthCheck(address, 503);
        assertThat(Probe.parse(drained, address).body()).contains("\"localEndpoints\": 0,")
                .contains("\"serviceProxyHealthy\": true");
        assertThat(drained.toLowerCase(Locale.ROOT)).contains("\r\nx-load-balancing-endpoint-weight: 0");
        assertThat(runDir.read(Daemon.LOG_FILE)).as("the daemon's log").doesNotContain("cannot listen")
                .contains("health-check node port [::]:" + HC_HEALTH_PORT + " of default/hc listening");
    }

    private String awaitHealthCheck(String address, int status) {
        String[] last = new String[1];
        await("health-check node port " + address + " answering " + status).atMost(Duration.ofSeconds(15))
                .pollInterval(Duration.ofMillis(300)).ignoreExceptions()
                .until(() -> {
                    last[0] = Probe.httpGetRaw(lab.client(), address, "/");
                    return last[0].startsWith("HTTP/1.1 " + status + " ") || last[0].startsWith("HTTP/1.0 " + status + " ");
                });
        return last[0];
    }

    // ---- session affinity ----

    @Test
    @Timeout(90)
    void clientIpAffinityKeepsAClientOnOnePodUntilItExpires() throws InterruptedException {
        List<Probe.Answer> pinned = Probe.tcp(lab.client(), AFFINITY_IP, 80, 20);
        assertThat(Probe.tally(pinned)).as("20 quick connections to %s:80 with ClientIP affinity", AFFINITY_IP)
                .hasSize(1);
        String pod = pinned.get(0).reply();
        assertThat(pod).startsWith("pod-");

        // Idle longer than the timeout, the next connection is balanced afresh among three pods: 2 in 3
        // land elsewhere. Eight idle rounds bound the wait; all eight staying put has odds of 1 in 6561.
        List<String> seen = new ArrayList<>();
        for (int round = 0; round < 8; round++) {
            Thread.sleep(AFFINITY_TIMEOUT * 1000L + 700);
            Probe.Answer a = Probe.tcp(lab.client(), AFFINITY_IP, 80, Duration.ofSeconds(2));
            assertThat(a.answered()).as("connection after %d idle rounds: %s", round + 1, a).isTrue();
            seen.add(a.reply());
            if (!a.reply().equals(pod)) {
                // And the new choice is sticky in turn.
                assertThat(Probe.tally(Probe.tcp(lab.client(), AFFINITY_IP, 80, 8))).containsOnlyKeys(a.reply());
                System.out.printf("[lab] affinity expired after %d idle round(s) of %d s%n", round + 1, AFFINITY_TIMEOUT);
                return;
            }
        }
        throw new AssertionError("after 8 idle periods longer than the affinity timeout, every connection still "
                + "went to " + pod + ": " + seen);
    }

    // ---- loadBalancerSourceRanges ----

    @Test
    @Timeout(60)
    void sourceRangesAdmitListedClientsAndDropOthers() {
        List<Probe.Answer> allowed = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            allowed.add(Probe.tcpFrom(lab.client(), Lab.CLIENT_IP, RANGES_LB_IP, 80, Duration.ofSeconds(2)));
        }
        assertThat(allowed).as("from %s (inside the source range) to LB IP %s", Lab.CLIENT_IP, RANGES_LB_IP)
                .allMatch(Probe.Answer::answered);

        long dropsBefore = firewallDrops(RANGES_LB_IP);
        for (int i = 0; i < 3; i++) {
            Probe.Answer denied = Probe.tcpFrom(lab.client(), CLIENT_IP_2, RANGES_LB_IP, 80, Duration.ofSeconds(1));
            assertThat(denied.answered()).as("from %s (outside the range): %s", CLIENT_IP_2, denied).isFalse();
            assertThat(denied.error()).as("dropped, not refused").doesNotContain("Connection refused");
        }
        // The drop is the proxy's: its firewall rule for the LB IP counted the attempts (SYN retries included).
        assertThat(firewallDrops(RANGES_LB_IP) - dropsBefore).as("packets counted by the KUBE-PROXY-FIREWALL DROP rule")
                .isGreaterThanOrEqualTo(3);
        // Source ranges guard the load-balancer IP only: the other address still reaches the cluster IP.
        assertThat(Probe.tcpFrom(lab.client(), CLIENT_IP_2, RANGES_IP, 80, Duration.ofSeconds(2)).answered()).isTrue();
    }

    /** The packet counter of the filter rule that drops traffic to {@code lbIp} outside its source ranges. */
    private long firewallDrops(String lbIp) {
        Pattern counters = Pattern.compile("^\\[(\\d+):(\\d+)\\] -A KUBE-PROXY-FIREWALL .*-d " + Pattern.quote(lbIp)
                + "/32 .*-j DROP$");
        long sum = 0;
        boolean found = false;
        for (String line : lab.node().exec("iptables-save", "-c", "-t", "filter").split("\n")) {
            Matcher m = counters.matcher(line);
            if (m.matches()) {
                sum += Long.parseLong(m.group(1));
                found = true;
            }
        }
        assertThat(found).as("a KUBE-PROXY-FIREWALL DROP rule for %s in:%n%s", lbIp, lab.nodeRules()).isTrue();
        return sum;
    }

    // ---- localhost NodePorts ----

    @Test
    @Timeout(60)
    void localhostNodePortWorksFromTheNodeAndTheNodesLoopbackStaysClosedToOthers() {
        assertThat(lab.node().exec("sysctl", "-n", "net.ipv4.conf.all.route_localnet").strip())
                .as("route_localnet in the node namespace, set by the daemon").isEqualTo("1");
        List<Probe.Answer> fromNode = Probe.tcp(lab.node(), "127.0.0.1", LOCALHOST_NODE_PORT, 10);
        assertThat(Probe.tally(fromNode).keySet()).as("127.0.0.1:%d from the node", LOCALHOST_NODE_PORT)
                .isNotEmpty().allMatch(k -> k.matches("pod-[abc] .*"));

        // route_localnet lets packets for 127.0.0.0/8 in from the network (a neighbour can craft
        // them): KUBE-FIREWALL must keep them from what listens on the node's loopback
        // (CVE-2020-8558). Here: a server bound to the node's 127.0.0.5.
        lab.processes().start("node loopback server", Lab.inside(lab.node(), "socat",
                "TCP-LISTEN:" + LOOPBACK_SERVER_PORT + ",bind=127.0.0.5,fork,reuseaddr", "SYSTEM:echo node-loopback"),
                runDir.resolve("node-loopback.log"));
        await("the node's loopback server answering the node").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> "node-loopback".equals(Probe.tcp(lab.node(), "127.0.0.5", LOOPBACK_SERVER_PORT,
                        Duration.ofSeconds(1)).reply()));
        craftLoopbackRouteInClient();
        Probe.Answer toNodeLoopback = Probe.tcp(lab.client(), "127.0.0.5", LOOPBACK_SERVER_PORT, Duration.ofSeconds(1));
        assertThat(toNodeLoopback.answered()).as("client to the node's 127.0.0.5:%d: %s", LOOPBACK_SERVER_PORT,
                toNodeLoopback).isFalse();
        assertThat(toNodeLoopback.error()).as("dropped, not refused").doesNotContain("Connection refused");
    }

    /**
     * NEEDS A RENDERER CHANGE (proxy-iptables), so disabled. From outside, a crafted packet to the
     * node's 127.0.0.5:NodePort is DNATed by KUBE-NODEPORTS (127.0.0.0/8 is a LOCAL address) and
     * forwarded to a pod, and the client gets an answer: KUBE-FIREWALL's localnet rule sits in
     * INPUT/OUTPUT and exempts DNAT, while this traffic goes through FORWARD. Upstream behaves the
     * same. It matters when nodePortAddresses is 127.0.0.0/8: NodePorts meant for the node only are
     * then open to its neighbours. A filter rule such as
     * {@code -A KUBE-FORWARD -m conntrack --ctstate DNAT --ctorigdst 127.0.0.0/8 -j DROP} (first in
     * KUBE-FORWARD) closes it; inserted by hand in this lab it makes this test pass, and node-local
     * localhost NodePort traffic (OUTPUT path, never FORWARD) keeps working.
     */
    @Test
    @Timeout(60)
    @Disabled("needs a renderer rule dropping forwarded traffic whose original destination is 127.0.0.0/8; "
            + "see the Javadoc")
    void localhostNodePortIsRefusedFromOutside() {
        craftLoopbackRouteInClient();
        Probe.Answer toLocalhostNodePort = Probe.tcp(lab.client(), "127.0.0.5", LOCALHOST_NODE_PORT,
                Duration.ofSeconds(1));
        assertThat(toLocalhostNodePort.answered()).as("client to the node's 127.0.0.5:%d: %s", LOCALHOST_NODE_PORT,
                toLocalhostNodePort).isFalse();
    }

    /**
     * Makes the client send 127.0.0.5 to the node, as a host on the node's link can: its own
     * loopback route for 127.0.0.0/8 goes (127.0.0.1 stays on lo), and route_localnet lets it
     * route the rest to the node.
     */
    private void craftLoopbackRouteInClient() {
        Netns.Result present = lab.client().execStatus(null, "ip", "route", "show", "table", "local", "127.0.0.0/8");
        if (present.output().contains("127.0.0.0/8")) {
            lab.client().exec("ip", "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local");
        }
        lab.client().exec("sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1");
        lab.client().exec("sysctl", "-q", "-w", "net.ipv4.conf.eth0.route_localnet=1");
        lab.client().exec("ip", "route", "replace", "127.0.0.5/32", "via", Lab.NODE_IP, "dev", "eth0");
    }

    // ---- stale UDP flows ----

    @Test
    @Timeout(60)
    void anExistingUdpFlowFollowsItsEndpointToTheNewOne() {
        int sourcePort = 41053;
        await("UDP from port " + sourcePort + " to " + FLIP_IP + ":53 answered by pod-a").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(200))
                .until(() -> "pod-a".equals(Probe.udpFromPort(lab.client(), FLIP_IP, 53, sourcePort,
                        Duration.ofMillis(500)).reply()));
        assertThat(Probe.udpFromPort(lab.client(), FLIP_IP, 53, sourcePort, Duration.ofSeconds(1)).reply())
                .isEqualTo("pod-a");

        replaceEndpoints("flip-1", ClusterObjects.endpoint(lab.pod("pod-b"), NODE_NAME));
        long changed = System.nanoTime();
        // Each datagram refreshes the flow's conntrack entry: without the cleanup it would stay on pod-a.
        List<String> seen = new ArrayList<>();
        await("the same flow (source port " + sourcePort + ") reaching pod-b").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    Probe.Answer a = Probe.udpFromPort(lab.client(), FLIP_IP, 53, sourcePort, Duration.ofMillis(500));
                    seen.add(a.answered() ? a.reply() : "-");
                    return "pod-b".equals(a.reply());
                });
        System.out.printf("[lab] UDP flow moved to the new endpoint within %d ms, replies seen: %s%n",
                Duration.ofNanos(System.nanoTime() - changed).toMillis(), seen);
        String flows = lab.node().exec("conntrack", "-L", "-p", "udp", "--orig-dst", FLIP_IP);
        assertThat(flows).as("conntrack flows to %s", FLIP_IP).contains("sport=" + sourcePort)
                .doesNotContain("src=" + lab.pod("pod-a").ip());
        assertThat(runDir.read(Daemon.LOG_FILE)).as("the daemon's log").doesNotContain("conntrack cleanup of")
                .doesNotContain("after-sync step");
        String metrics = Probe.httpGet(lab.node(), Daemon.METRICS_ADDRESS, "/metrics").body();
        assertThat(metrics).as("the daemon's /metrics")
                .containsPattern("(?m)^kubeproxy_conntrack_reconciler_deleted_entries_total\\{ip_family=\"IPv4\"\\} [1-9]")
                .containsPattern("(?m)^kubeproxy_conntrack_reconciler_sync_duration_seconds_count\\{ip_family=\"IPv4\"\\} [1-9]");
    }

    // ---- dual stack ----

    @Test
    @Timeout(60)
    void ipv6ClusterIpWorksNextToIpv4() {
        List<Probe.Answer> v6 = Probe.tcp(lab.client(), "[" + DUAL_IP6 + "]", 80, 20);
        assertThat(Probe.tally(v6)).as("20 connections to [%s]:80", DUAL_IP6)
                .containsOnlyKeys("pod-a " + Lab.POD_GATEWAY6, "pod-b " + Lab.POD_GATEWAY6);
        List<Probe.Answer> v4 = Probe.tcp(lab.client(), DUAL_IP4, 80, 20);
        assertThat(Probe.tally(v4)).as("20 connections to %s:80", DUAL_IP4)
                .containsOnlyKeys("pod-a " + Lab.POD_GATEWAY, "pod-b " + Lab.POD_GATEWAY);
        String rules6 = lab.node().exec("ip6tables-save", "-t", "nat");
        assertThat(rules6).contains("-d " + DUAL_IP6 + "/128");
    }

    /** Everything needed to tell what went wrong: daemon command line and log, node rules (both families). */
    private void report(String what) {
        StringBuilder b = new StringBuilder("\n======== pointsman lab report: ").append(what).append(" ========\n");
        if (daemon != null) {
            b.append(daemon.describe()).append('\n');
        }
        if (lab != null) {
            b.append("---- iptables-save -c in node namespace ").append(lab.node().name()).append(" ----\n")
                    .append(lab.nodeRules());
            Netns.Result v6 = lab.node().execStatus(null, "ip6tables-save", "-c");
            b.append("---- ip6tables-save -c ----\n").append(v6.output());
            Netns.Result ct = lab.node().execStatus(null, "conntrack", "-L");
            b.append("---- conntrack -L ----\n").append(ct.output());
        }
        b.append("======== end of report ========");
        System.out.println(b);
    }
}
