package io.pointsman.it;

import static org.awaitility.Awaitility.await;

import io.pointsman.core.testing.Netns;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The netns lab: a "node" namespace that routes between a "client" namespace and two "pod"
 * namespaces, each pod running TCP (socat) and UDP ({@link UdpNameServer}) servers that answer
 * with the pod's name.
 *
 * <pre>
 *   client 192.168.77.2 ── 192.168.77.1 node ── 10.244.1.1 ── pod-a 10.244.1.2
 *                                        │    └─ 10.244.1.1 ── pod-b 10.244.1.3
 *                                        └─ 172.31.255.1 (uplink, default route to nowhere)
 * </pre>
 *
 * Pods are routed point to point (a /32 route per pod veth), like Calico, so no bridge and no
 * br_netfilter is involved. The uplink gives the node a default route, as a real node has, so
 * traffic to a service IP without rules is forwarded (and then rejected or dropped by rules)
 * rather than unroutable. Every name lives only inside the lab's namespaces.
 */
final class Lab implements AutoCloseable {
    static final String NODE_IP = "192.168.77.1";
    static final String CLIENT_IP = "192.168.77.2";
    static final String POD_GATEWAY = "10.244.1.1";
    static final String CLUSTER_CIDR = "10.244.0.0/16";
    static final int POD_TCP_PORT = 8080;
    static final int POD_UDP_PORT = 5353;
    /** Where the node reaches the API server relay (inside the node namespace). */
    static final int API_PORT = 6443;
    /** Where {@link #startPeerEchoServers()} serves "name peer-ip" over TCP in every pod. */
    static final int POD_PEER_PORT = 8081;
    /** IPv6 addressing of {@link #enableIpv6()}: the same links, a second family. */
    static final String NODE_IP6 = "fd00:77::1";
    static final String CLIENT_IP6 = "fd00:77::2";
    static final String POD_GATEWAY6 = "fd00:244:1::1";
    static final String CLUSTER_CIDR6 = "fd00:244::/48";

    record Pod(String name, String ip, Netns ns) {
    }

    private final RunDir runDir;
    private final ChildProcesses processes = new ChildProcesses();
    private final List<Netns> namespaces = new ArrayList<>();
    private final List<Pod> pods = new ArrayList<>();
    private final Thread shutdownHook;
    private Netns node;
    private Netns client;
    private boolean closed;
    private boolean ipv6;
    private final java.util.Map<String, String> podIpv6 = new java.util.LinkedHashMap<>();

    private Lab(RunDir runDir) {
        this.runDir = runDir;
        // If the JVM is stopped mid-test (surefire timeout, Ctrl-C), still delete the namespaces.
        this.shutdownHook = new Thread(this::closeQuietly, "lab-cleanup");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** Builds the namespaces, links and pod servers; on any failure deletes what it made. */
    static Lab create(RunDir runDir) {
        Lab lab = new Lab(runDir);
        try {
            lab.build();
            return lab;
        } catch (RuntimeException | Error e) {
            lab.close();
            throw e;
        }
    }

    private void build() {
        node = namespace("node");
        client = namespace("client");
        node.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");

        // Uplink: a veth pair with both ends in the node; the gateway never answers.
        node.exec("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1");
        node.exec("ip", "addr", "add", "172.31.255.1/24", "dev", "up0");
        node.exec("ip", "link", "set", "up0", "up");
        node.exec("ip", "link", "set", "up1", "up");
        node.exec("ip", "route", "add", "default", "via", "172.31.255.254", "dev", "up0");

        veth("vclient", client);
        node.exec("ip", "addr", "add", NODE_IP + "/24", "dev", "vclient");
        node.exec("ip", "link", "set", "vclient", "up");
        client.exec("ip", "addr", "add", CLIENT_IP + "/24", "dev", "eth0");
        client.exec("ip", "link", "set", "eth0", "up");
        client.exec("ip", "route", "add", "default", "via", NODE_IP);

        addPod("pod-a", "10.244.1.2", "vpod0");
        addPod("pod-b", "10.244.1.3", "vpod1");
        for (Pod pod : pods) {
            await("pod " + pod.name() + " answering TCP directly").atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> pod.name().equals(Probe.tcp(client, pod.ip(), POD_TCP_PORT, Duration.ofSeconds(1)).reply()));
            await("pod " + pod.name() + " answering UDP directly").atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> pod.name().equals(Probe.udp(client, pod.ip(), POD_UDP_PORT, Duration.ofMillis(500)).reply()));
        }
    }

    private Netns namespace(String role) {
        Netns ns = Netns.create(role);
        namespaces.add(ns);
        return ns;
    }

    /** A veth pair created directly inside the two namespaces: its names never exist on the host. */
    private void veth(String nodeSide, Netns other) {
        Netns.run(List.of("ip", "link", "add", nodeSide, "netns", node.name(), "type", "veth",
                "peer", "name", "eth0", "netns", other.name()));
    }

    private void addPod(String name, String ip, String nodeSide) {
        Netns ns = namespace(name);
        veth(nodeSide, ns);
        node.exec("ip", "addr", "add", POD_GATEWAY + "/32", "dev", nodeSide);
        node.exec("ip", "link", "set", nodeSide, "up");
        node.exec("ip", "route", "add", ip + "/32", "dev", nodeSide);
        ns.exec("ip", "addr", "add", ip + "/32", "dev", "eth0");
        ns.exec("ip", "link", "set", "eth0", "up");
        ns.exec("ip", "route", "add", POD_GATEWAY + "/32", "dev", "eth0");
        ns.exec("ip", "route", "add", "default", "via", POD_GATEWAY, "dev", "eth0");
        Path log = runDir.resolve(name + ".log");
        // Fixed strings only: the servers answer with the pod's name and nothing else.
        processes.start(name + " tcp", inside(ns, "socat", "TCP-LISTEN:" + POD_TCP_PORT + ",fork,reuseaddr",
                "SYSTEM:echo " + name), log);
        processes.start(name + " udp", inside(ns, udpServerCommand(name)), log);
        pods.add(new Pod(name, ip, ns));
    }

    /**
     * Adds one more pod namespace (veth "vpodN", the same servers as the others), e.g. for a test
     * that needs three endpoints. Call it before {@link #enableIpv6()} and {@link #startPeerEchoServers()}.
     */
    synchronized Pod addExtraPod(String name, String ip) {
        if (ipv6) {
            throw new IllegalStateException("addExtraPod(" + name + ") after enableIpv6() (expected: before)");
        }
        addPod(name, ip, "vpod" + pods.size());
        Pod pod = pods.get(pods.size() - 1);
        await("pod " + pod.name() + " answering TCP directly").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> pod.name().equals(Probe.tcp(client, pod.ip(), POD_TCP_PORT, Duration.ofSeconds(1)).reply()));
        await("pod " + pod.name() + " answering UDP directly").atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> pod.name().equals(Probe.udp(client, pod.ip(), POD_UDP_PORT, Duration.ofMillis(500)).reply()));
        return pod;
    }

    /**
     * Adds IPv6 to the lab (client fd00:77::2, node fd00:77::1, pods fd00:244:1::2, ::3, ...),
     * routed like IPv4: a /128 route per pod veth. Addresses skip duplicate address detection so
     * they work at once. Servers started later that listen on the wildcard address serve both
     * families (the socat and UDP name servers of the pods stay IPv4).
     */
    synchronized void enableIpv6() {
        if (ipv6) {
            return;
        }
        node.exec("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1");
        node.exec("ip", "-6", "addr", "add", NODE_IP6 + "/64", "dev", "vclient", "nodad");
        client.exec("ip", "-6", "addr", "add", CLIENT_IP6 + "/64", "dev", "eth0", "nodad");
        client.exec("ip", "-6", "route", "add", "default", "via", NODE_IP6);
        int i = 0;
        for (Pod pod : pods) {
            String nodeSide = "vpod" + i;
            String ip6 = "fd00:244:1::" + (i + 2);
            node.exec("ip", "-6", "addr", "add", POD_GATEWAY6 + "/128", "dev", nodeSide, "nodad");
            node.exec("ip", "-6", "route", "add", ip6 + "/128", "dev", nodeSide);
            pod.ns().exec("ip", "-6", "addr", "add", ip6 + "/128", "dev", "eth0", "nodad");
            pod.ns().exec("ip", "-6", "route", "add", POD_GATEWAY6 + "/128", "dev", "eth0");
            pod.ns().exec("ip", "-6", "route", "add", "default", "via", POD_GATEWAY6, "dev", "eth0");
            podIpv6.put(pod.name(), ip6);
            i++;
        }
        ipv6 = true;
    }

    /** The IPv6 address of a pod, after {@link #enableIpv6()}. */
    synchronized String ipv6(Pod pod) {
        String ip = podIpv6.get(pod.name());
        if (ip == null) {
            throw new IllegalStateException("pod " + pod.name() + " has no IPv6 address (expected: enableIpv6() first)");
        }
        return ip;
    }

    /**
     * Starts a {@link PeerEchoServer} in every pod on {@link #POD_PEER_PORT} and waits until the
     * client reaches each directly (over IPv6 too when enabled).
     */
    void startPeerEchoServers() {
        for (Pod pod : pods) {
            processes.start(pod.name() + " peer", inside(pod.ns(), javaCommand(PeerEchoServer.class, pod.name(),
                    Integer.toString(POD_PEER_PORT))), runDir.resolve(pod.name() + ".log"));
        }
        for (Pod pod : pods) {
            String expected = pod.name() + " " + CLIENT_IP;
            await("pod " + pod.name() + " answering peer echo directly").atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> expected.equals(Probe.tcp(client, pod.ip(), POD_PEER_PORT, Duration.ofSeconds(1)).reply()));
            if (ipv6) {
                String expected6 = pod.name() + " " + CLIENT_IP6;
                await("pod " + pod.name() + " answering peer echo over IPv6").atMost(Duration.ofSeconds(10))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> expected6.equals(Probe.tcp(client, "[" + ipv6(pod) + "]", POD_PEER_PORT,
                                Duration.ofSeconds(1)).reply()));
            }
        }
    }

    /** A small JVM running a main class of this module's test classes. */
    private static String[] javaCommand(Class<?> main, String... args) {
        String classes;
        try {
            classes = Path.of(main.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot locate the test classes of " + main, e);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx16m", "-Xss256k", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-cp", classes, main.getName()));
        cmd.addAll(List.of(args));
        return cmd.toArray(new String[0]);
    }

    /** A small JVM running {@link UdpNameServer} from this module's test classes. */
    private static String[] udpServerCommand(String name) {
        String classes;
        try {
            classes = Path.of(UdpNameServer.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot locate the test classes of " + UdpNameServer.class, e);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new String[] {java, "-Xmx16m", "-Xss256k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-cp", classes, UdpNameServer.class.getName(), name, Integer.toString(POD_UDP_PORT)};
    }

    static List<String> inside(Netns ns, String... command) {
        List<String> cmd = new ArrayList<>(ns.prefix());
        cmd.addAll(List.of(command));
        return cmd;
    }

    /**
     * Writes a kubeconfig for the node's end of the API relay (http://127.0.0.1:{@value #API_PORT}),
     * with {@code token} as the user's bearer token. Answers {@code kubeconfig}.
     */
    static Path writeKubeconfig(Path kubeconfig, String token) {
        if (!token.matches("[A-Za-z0-9._-]+")) {
            throw new IllegalArgumentException("token: " + token + " (expected: letters, digits, '.', '_', '-')");
        }
        String text = """
                apiVersion: v1
                kind: Config
                clusters:
                - name: lab
                  cluster:
                    server: http://127.0.0.1:%d
                users:
                - name: lab
                  user:
                    token: %s
                contexts:
                - name: lab
                  context:
                    cluster: lab
                    user: lab
                    namespace: default
                current-context: lab
                """.formatted(API_PORT, token);
        try {
            Files.writeString(kubeconfig, text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + kubeconfig + ": " + e.getMessage(), e);
        }
        return kubeconfig;
    }

    /**
     * Lets the node reach an API server listening on the host's 127.0.0.1:{@code apiPort} at its own
     * 127.0.0.1:6443, through a unix socket in the run directory (all traffic stays on loopbacks),
     * and writes a kubeconfig for it. Answers the kubeconfig's path.
     */
    Path connectApi(int apiPort) {
        Path socket = runDir.resolve("api.sock");
        Path log = runDir.resolve("relay.log");
        processes.start("api relay (host side)", List.of("socat", "UNIX-LISTEN:" + socket + ",fork",
                "TCP:127.0.0.1:" + apiPort), log);
        await("relay socket " + socket).atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50))
                .until(() -> Files.exists(socket));
        processes.start("api relay (node side)", inside(node, "socat",
                "TCP-LISTEN:" + API_PORT + ",bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:" + socket), log);
        Path kubeconfig = writeKubeconfig(runDir.resolve("kubeconfig"), "lab-token");
        await("API relay answering inside the node").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .until(() -> Probe.httpGet(node, "127.0.0.1:" + API_PORT, "/api/v1/namespaces").status() == 200);
        return kubeconfig;
    }

    /** Loads rules into the node namespace with iptables-restore --noflush. */
    void restoreInNode(String rules) {
        Netns.Result r = node.execStatus(rules, "iptables-restore", "--noflush");
        if (r.exit() != 0) {
            throw new IllegalStateException("iptables-restore in " + node.name() + " exited " + r.exit() + ": " + r.output());
        }
    }

    /** The node's iptables state (with counters), for assertions and failure reports. */
    String nodeRules() {
        Netns.Result r = node.execStatus(null, "iptables-save", "-c");
        return r.exit() == 0 ? r.output() : "(iptables-save failed, exit " + r.exit() + ": " + r.output() + ")";
    }

    Netns node() {
        return node;
    }

    Netns client() {
        return client;
    }

    List<Pod> pods() {
        return List.copyOf(pods);
    }

    Pod pod(String name) {
        return pods.stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("pod: " + name + " (expected one of " + pods + ")"));
    }

    ChildProcesses processes() {
        return processes;
    }

    RunDir runDir() {
        return runDir;
    }

    /** Ends every process, then deletes every namespace (which also kills anything left inside). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            processes.close();
        } finally {
            for (int i = namespaces.size() - 1; i >= 0; i--) {
                namespaces.get(i).close();
            }
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // Already running as the hook: nothing to remove.
            }
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (RuntimeException e) {
            System.err.println("[lab] cleanup failed: " + e);
        }
    }
}
