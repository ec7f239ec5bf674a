package io.pointsman.userspace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.SyncException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The backend with real sockets on loopback: the relay listens, dials the loopback servers that
 * stand in for pods, and the test connects to the relay ports (the portal rules are recorded,
 * not applied, as on a laptop without root).
 */
@Timeout(60)
class UserspaceBackendLoopbackTest {
    private static final String NODE = "node-1";
    private static final ServicePortName WEB = new ServicePortName("default", "web", "http", Protocol.TCP);
    private static final ServicePortName DNS = new ServicePortName("default", "dns", "dns", Protocol.UDP);

    private final LoopbackServers servers = new LoopbackServers();
    private final RecordingNetfilter netfilter = new RecordingNetfilter();
    private final ProxyMetrics metrics = new ProxyMetrics("userspace");
    private UserspaceBackend backend;

    @BeforeEach
    void start() {
        startBackend(Duration.ZERO, Duration.ofMillis(300));
    }

    private void startBackend(Duration tcpIdle, Duration udpIdle) {
        ProxyConfig.Builder b = new ProxyConfig.Builder();
        b.mode = "userspace";
        ProxyConfig config = b.build();
        BackendContext ctx = new BackendContext(config, metrics, netfilter, Set.of(), false);
        RelayOptions options = new RelayOptions(Duration.ofSeconds(1), tcpIdle, udpIdle, Duration.ofMillis(200));
        backend = new UserspaceBackend(ctx, Transport.choose(false), 2, List::of, options);
    }

    @AfterEach
    void stop() {
        try {
            if (backend != null) {
                backend.close();
            }
        } finally {
            servers.close();
        }
    }

    private static ServicePort service(ServicePortName name, String clusterIp, int port, int nodePort) {
        return new ServicePort(name, nodePort == 0 ? ServiceType.CLUSTER_IP : ServiceType.NODE_PORT,
                List.of(clusterIp), port, nodePort, List.of(), List.of(), List.of(), 0, TrafficPolicy.CLUSTER,
                TrafficPolicy.CLUSTER, 0, "");
    }

    private static ProxyState state(Map<ServicePort, List<Integer>> services) {
        Map<ServicePortName, ServicePort> svcs = new HashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        services.forEach((svc, ports) -> {
            svcs.put(svc.name(), svc);
            List<Endpoint> list = new ArrayList<>();
            for (int p : ports) {
                list.add(Endpoint.ready("127.0.0.1", p, NODE));
            }
            list.sort(null);
            eps.put(svc.name(), list);
        });
        return new ProxyState(NodeInfo.named(NODE), svcs, eps);
    }

    private void syncFull(ProxyState state) throws SyncException {
        backend.sync(state, ChangeSet.NONE, true);
    }

    private int relayPort(ServicePortName name) {
        int port = backend.relayPort(name, Listener.Role.CLUSTER, IpFamily.IPv4);
        assertThat(port).as("relay port of %s", name).isPositive();
        return port;
    }

    static String tcpAsk(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(LoopbackServers.LOOPBACK, port), 2000);
            s.setSoTimeout(3000);
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        }
    }

    static String udpAsk(int port) throws IOException {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(LoopbackServers.LOOPBACK, 0))) {
            // Connected: a reply from any other address than the one asked would be dropped by the kernel.
            s.connect(new InetSocketAddress(LoopbackServers.LOOPBACK, port));
            s.setSoTimeout(2000);
            byte[] ping = "ping".getBytes(StandardCharsets.US_ASCII);
            s.send(new DatagramPacket(ping, ping.length));
            byte[] buf = new byte[512];
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            s.receive(p);
            return new String(buf, 0, p.getLength(), StandardCharsets.US_ASCII).strip();
        }
    }

    private static Map<String, Integer> tally(List<String> answers) {
        Map<String, Integer> t = new TreeMap<>();
        answers.forEach(a -> t.merge(a, 1, Integer::sum));
        return t;
    }

    @Test
    void tcpConnectionsReachEveryEndpointRoundRobin() throws Exception {
        syncFull(state(Map.of(service(WEB, "10.96.0.10", 80, 0), List.of(servers.tcpNamed("pod-a"), servers.tcpNamed("pod-b")))));
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            answers.add(tcpAsk(relayPort(WEB)));
        }
        assertThat(tally(answers)).containsEntry("pod-a", 5).containsEntry("pod-b", 5);
        assertThat(metrics.scrape())
                .contains("pointsman_userspace_connections_total{protocol=\"TCP\"} 10.0")
                .contains("pointsman_userspace_bytes_total{direction=\"to_client\",protocol=\"TCP\"} 60.0");
    }

    @Test
    void aDeadEndpointIsSkippedAndEveryConnectionIsAnswered() throws Exception {
        syncFull(state(Map.of(service(WEB, "10.96.0.10", 80, 0),
                List.of(LoopbackServers.closedPort(), servers.tcpNamed("pod-b")))));
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            answers.add(tcpAsk(relayPort(WEB)));
        }
        assertThat(tally(answers)).containsOnlyKeys("pod-b");
        assertThat(metrics.scrape()).contains(
                "pointsman_userspace_dial_failures_total{protocol=\"TCP\",reason=\"refused\"} 5.0");
    }

    @Test
    void halfCloseReachesTheEndpointAndTheAnswerStillComesBack() throws Exception {
        syncFull(state(Map.of(service(WEB, "10.96.0.10", 80, 0), List.of(servers.tcpEcho()))));
        try (Socket s = new Socket(LoopbackServers.LOOPBACK, relayPort(WEB))) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("request body".getBytes(StandardCharsets.US_ASCII));
            // The echo server answers only after it saw EOF: the FIN must have crossed the relay.
            s.shutdownOutput();
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).isEqualTo("request body");
        }
    }

    @Test
    void aSlowReaderHoldsTheSenderBackInsteadOfFillingTheRelay() throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        AtomicLong serverRead = new AtomicLong();
        syncFull(state(Map.of(service(WEB, "10.96.0.10", 80, 0), List.of(servers.tcpSlowSink(go, serverRead)))));
        long written = 0;
        try (SocketChannel client = SocketChannel.open(new InetSocketAddress(LoopbackServers.LOOPBACK, relayPort(WEB)))) {
            client.configureBlocking(false);
            ByteBuffer chunk = ByteBuffer.allocate(1 << 16);
            long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            long limit = 512L << 20;
            while (System.nanoTime() < deadline && written < limit) {
                chunk.clear();
                int n = client.write(chunk);
                written += n;
                if (n == 0) {
                    Thread.sleep(5);
                }
            }
            double relayed = metrics.registry().find("pointsman.userspace.bytes").tag("direction", "to_endpoint")
                    .counter().count();
            // Socket buffers on both sides of the relay hold some megabytes; a relay that kept reading
            // would have taken everything the client could write in 2 s (hundreds of MB on loopback).
            assertThat(written).as("bytes the client could write while nobody read").isLessThan(64L << 20);
            assertThat((long) relayed).as("bytes the relay read from the client").isLessThanOrEqualTo(written)
                    .isLessThan(48L << 20);

            // Once the endpoint reads, everything arrives.
            go.countDown();
            client.shutdownOutput();
            long expected = written;
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(serverRead.get())
                    .as("bytes the endpoint read of the %d the client wrote (relay forwarded %.0f)", expected,
                            metrics.registry().find("pointsman.userspace.bytes").tag("direction", "to_endpoint")
                                    .counter().count())
                    .isEqualTo(expected));
        }
    }

    @Test
    void udpSessionsReachEveryEndpointAndRepliesComeFromTheServiceAddress() throws Exception {
        syncFull(state(Map.of(service(DNS, "10.96.0.53", 53, 0), List.of(servers.udpNamed("pod-a"), servers.udpNamed("pod-b")))));
        int port = relayPort(DNS);
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            answers.add(udpAsk(port));
        }
        assertThat(tally(answers)).containsEntry("pod-a", 5).containsEntry("pod-b", 5);
        assertThat(backend.runtime().metrics().active(Protocol.UDP)).isPositive();
        // Sessions end after the idle timeout (300 ms here).
        await().atMost(Duration.ofSeconds(5)).until(() -> backend.runtime().metrics().active(Protocol.UDP) == 0);
    }

    @Test
    void aUdpClientKeepsItsSessionAcrossDatagrams() throws Exception {
        syncFull(state(Map.of(service(DNS, "10.96.0.53", 53, 0), List.of(servers.udpNamed("pod-a"), servers.udpNamed("pod-b")))));
        int port = relayPort(DNS);
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(LoopbackServers.LOOPBACK, 0))) {
            s.connect(new InetSocketAddress(LoopbackServers.LOOPBACK, port));
            s.setSoTimeout(2000);
            List<String> answers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                s.send(new DatagramPacket(new byte[] {'x'}, 1));
                byte[] buf = new byte[64];
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                s.receive(p);
                answers.add(new String(buf, 0, p.getLength(), StandardCharsets.US_ASCII).strip());
            }
            assertThat(tally(answers)).hasSize(1);
        }
    }

    @Test
    void aUdpSessionToARemovedEndpointEndsAndTheClientMovesOn() throws Exception {
        backend.close();
        startBackend(Duration.ZERO, Duration.ofSeconds(30));
        ServicePort svc = service(DNS, "10.96.0.53", 53, 0);
        int a = servers.udpNamed("pod-a");
        int b = servers.udpNamed("pod-b");
        syncFull(state(Map.of(svc, List.of(a))));
        int port = relayPort(DNS);
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(LoopbackServers.LOOPBACK, 0))) {
            s.connect(new InetSocketAddress(LoopbackServers.LOOPBACK, port));
            s.setSoTimeout(2000);
            assertThat(exchange(s)).isEqualTo("pod-a");
            // A new endpoint alone does not move an existing session.
            backend.sync(state(Map.of(svc, List.of(a, b))), new ChangeSet(Set.of(DNS), false), false);
            assertThat(exchange(s)).isEqualTo("pod-a");
            // Its endpoint removed, the session ends; the client's next datagram opens one to pod-b.
            backend.sync(state(Map.of(svc, List.of(b))), new ChangeSet(Set.of(DNS), false), false);
            await().atMost(Duration.ofSeconds(5)).until(() -> backend.runtime().metrics().active(Protocol.UDP) == 0);
            assertThat(exchange(s)).isEqualTo("pod-b");
        }
    }

    private static String exchange(DatagramSocket s) throws IOException {
        s.send(new DatagramPacket(new byte[] {'x'}, 1));
        byte[] buf = new byte[64];
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        s.receive(p);
        return new String(buf, 0, p.getLength(), StandardCharsets.US_ASCII).strip();
    }

    @Test
    void nodePortIsServedDirectlyAndAPortConflictIsRetriedNotFatal() throws Exception {
        ServerSocket blocker = new ServerSocket();
        blocker.setReuseAddress(true);
        blocker.bind(new InetSocketAddress("0.0.0.0", 0));
        int nodePort = blocker.getLocalPort();
        try {
            syncFull(state(Map.of(service(WEB, "10.96.0.10", 80, nodePort), List.of(servers.tcpNamed("pod-a")))));
            // The cluster IP's relay port serves although the node port is taken.
            assertThat(tcpAsk(relayPort(WEB))).isEqualTo("pod-a");
            assertThat(metrics.scrape()).contains("pointsman_userspace_listeners_pending 1.0");
        } finally {
            blocker.close();
        }
        await("the node port bound once free").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptions().until(() -> "pod-a".equals(tcpAsk(nodePort)));
        assertThat(metrics.scrape()).contains("pointsman_userspace_listeners_pending 0.0");
    }

    @Test
    void aRemovedServiceClosesItsListeners() throws Exception {
        syncFull(state(Map.of(service(WEB, "10.96.0.10", 80, 0), List.of(servers.tcpNamed("pod-a")))));
        int port = relayPort(WEB);
        assertThat(tcpAsk(port)).isEqualTo("pod-a");
        backend.sync(state(Map.of()), new ChangeSet(Set.of(WEB), false), false);
        assertThat(backend.relayPort(WEB, Listener.Role.CLUSTER, IpFamily.IPv4)).isEqualTo(-1);
        await().atMost(Duration.ofSeconds(5)).ignoreExceptions().untilAsserted(() ->
                assertThatThrownBy(() -> tcpAsk(port)).isInstanceOf(ConnectException.class));
        assertThat(netfilter.last()).doesNotContain("10.96.0.10");
    }

    @Test
    void endpointChangesNeverCutAnEstablishedConnection() throws Exception {
        int a = servers.tcpEcho();
        int b = servers.tcpEcho();
        ServicePort svc = service(WEB, "10.96.0.10", 80, 0);
        syncFull(state(Map.of(svc, List.of(a))));
        try (Socket s = new Socket(LoopbackServers.LOOPBACK, relayPort(WEB))) {
            s.setSoTimeout(3000);
            assertThat(roundTrip(s, "one")).isEqualTo("one");
            // Another endpoint comes, then this connection's endpoint leaves: the connection stays.
            backend.sync(state(Map.of(svc, List.of(a, b))), new ChangeSet(Set.of(WEB), false), false);
            assertThat(roundTrip(s, "two")).isEqualTo("two");
            backend.sync(state(Map.of(svc, List.of(b))), new ChangeSet(Set.of(WEB), false), false);
            assertThat(roundTrip(s, "three")).isEqualTo("three");
        }
    }

    private static String roundTrip(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
        byte[] buf = new byte[text.length()];
        InputStream in = s.getInputStream();
        int off = 0;
        while (off < buf.length) {
            int n = in.read(buf, off, buf.length - off);
            if (n < 0) {
                throw new IOException("connection closed after " + off + " bytes");
            }
            off += n;
        }
        return new String(buf, StandardCharsets.US_ASCII);
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        backend.close();
        startBackend(Duration.ofMillis(300), Duration.ofMillis(300));
        syncFull(state(Map.of(service(WEB, "10.96.0.10", 80, 0), List.of(servers.tcpEcho()))));
        try (Socket s = new Socket(LoopbackServers.LOOPBACK, relayPort(WEB))) {
            s.setSoTimeout(5000);
            assertThat(roundTrip(s, "hi")).isEqualTo("hi");
            long t0 = System.nanoTime();
            assertThat(s.getInputStream().read()).as("EOF from the relay").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThan(Duration.ofMillis(200));
        }
    }

    @Test
    void portalRulesRedirectEachServiceAddressToItsRelayPort() throws Exception {
        ServicePort lb = new ServicePort(WEB, ServiceType.LOAD_BALANCER, List.of("10.96.0.10"), 80, 0,
                List.of("203.0.113.7"), List.of("198.51.100.1"), List.of("192.0.2.0/24"), 0, TrafficPolicy.CLUSTER,
                TrafficPolicy.CLUSTER, 0, "");
        syncFull(state(Map.of(lb, List.of(servers.tcpNamed("pod-a")))));
        int cluster = relayPort(WEB);
        int external = backend.relayPort(WEB, Listener.Role.EXTERNAL, IpFamily.IPv4);
        assertThat(external).isPositive().isNotEqualTo(cluster);
        assertThat(tcpAsk(external)).isEqualTo("pod-a");
        String payload = netfilter.last();
        assertThat(payload).contains(
                "-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http\" -m tcp --dport 80 -j REDIRECT --to-ports " + cluster,
                "-A KUBE-PORTALS-HOST -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http\" -m tcp --dport 80 -j REDIRECT --to-ports " + cluster,
                "-A KUBE-PORTALS-CONTAINER -d 203.0.113.7/32 -p tcp -m comment --comment \"default/web:http\" -m tcp --dport 80 -j REDIRECT --to-ports " + external,
                "-A KUBE-PORTALS-CONTAINER -s 192.0.2.0/24 -d 198.51.100.1/32 -p tcp -m comment --comment \"default/web:http\" -m tcp --dport 80 -j REDIRECT --to-ports " + external,
                "-I PREROUTING 1 -m comment --comment \"pointsman userspace: service portals\" -j KUBE-PORTALS-CONTAINER");

        // Nothing changed: a partial sync writes nothing; a full sync rewrites (drift repair).
        int writes = netfilter.count();
        backend.sync(state(Map.of(lb, List.of(servers.tcpNamed("pod-a")))), new ChangeSet(Set.of(WEB), false), false);
        assertThat(netfilter.count()).isEqualTo(writes);
        netfilter.natSave = "-A PREROUTING -m comment --comment \"x\" -j KUBE-PORTALS-CONTAINER\n"
                + "-A OUTPUT -j KUBE-PORTALS-HOST\n";
        syncFull(state(Map.of(lb, List.of(servers.tcpNamed("pod-a")))));
        assertThat(netfilter.count()).isEqualTo(writes + 1);
        assertThat(netfilter.last()).as("jumps already there: not added twice").doesNotContain("-I PREROUTING");
        assertThat(backend.relayPort(WEB, Listener.Role.CLUSTER, IpFamily.IPv4)).as("relay port kept").isEqualTo(cluster);
    }
}
