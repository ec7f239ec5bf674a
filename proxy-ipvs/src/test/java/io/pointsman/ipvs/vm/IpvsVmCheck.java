package io.pointsman.ipvs.vm;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.ExecNetfilter;
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
import io.pointsman.core.spi.SyncResult;
import io.pointsman.ipvs.ExecIpset;
import io.pointsman.ipvs.IpvsBackend;
import io.pointsman.ipvs.IpvsCleanup;
import io.pointsman.ipvs.IpvsSettings;
import io.pointsman.ipvs.IpvsText;
import io.pointsman.ipvs.kernel.InterfaceAddress;
import io.pointsman.ipvs.kernel.IpvsClient;
import io.pointsman.ipvs.kernel.LinkClient;
import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import io.pointsman.ipvs.netlink.NetlinkException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Runs inside the throwaway VM (root, a kernel with IPVS): the IPVS backend's real netlink code
 * against the kernel, checked with its own dumps and with ipvsadm, plus real traffic from a client
 * namespace through a ClusterIP to two backend namespaces. Prints one "CHECK name OK|FAIL detail"
 * line per check and "RESULT passed/total"; {@code IpvsVmTest} asserts on them. Kept focused:
 * Java runs 12-20 times slower under emulation.
 */
public final class IpvsVmCheck {
    private static final String NODE = "vm-node";
    private static int passed;
    private static int total;

    private IpvsVmCheck() {
    }

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        try {
            run();
        } catch (Throwable e) {
            check("no-unexpected-exception", false, e.toString());
            e.printStackTrace(System.out);
        }
        System.out.println("RESULT " + passed + "/" + total + " in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        System.out.flush();
        System.exit(passed == total ? 0 : 1);
    }

    private static void run() throws Exception {
        setUpNetwork();
        ProxyConfig config = config("rr", List.of("10.200.0.0/16"));
        IpvsSettings settings = IpvsSettings.from(config, Set.of()).withGraceful(Duration.ofSeconds(60),
                Duration.ofSeconds(2));
        BackendContext ctx = new BackendContext(config, new ProxyMetrics("ipvs"), new ExecNetfilter(), Set.of(), false);

        // --- 1. First sync creates services, destinations, addresses, ipsets, rules.
        ProxyState s1 = state(true);
        IpvsBackend backend = new IpvsBackend(ctx, settings, new ExecIpset(), Clock.systemUTC());
        SyncResult r1 = backend.sync(s1, ChangeSet.NONE, true);
        System.out.println("first sync: " + r1.counts());
        try (IpvsClient ipvs = IpvsClient.open(); LinkClient links = LinkClient.open()) {
            Map<ServiceKey, VirtualServer> dumped = dump(ipvs);
            Set<String> keys = new TreeSet<>();
            dumped.keySet().forEach(k -> keys.add(k.toString()));
            check("services-created", keys.containsAll(List.of("10.96.0.10:80/TCP", "10.96.0.20:80/TCP",
                    "10.96.0.53:53/UDP", "10.96.0.30:90/TCP", "10.0.1.1:30080/TCP", "10.0.2.1:30080/TCP",
                    "[fd00:96::10]:80/TCP")) && keys.size() == 8, keys.toString());
            String own = sorted(IpvsText.render(dumped, destinations(ipvs, dumped)));
            String ipvsadm = sorted(sh("ipvsadm -S -n"));
            check("ipvsadm-agrees-with-java-dump", own.equals(ipvsadm), "java:\n" + own + "ipvsadm:\n" + ipvsadm);
            check("kernel-equals-desired", own.equals(sorted(desiredText(backend, s1))),
                    "kernel:\n" + own + "desired:\n" + desiredText(backend, s1));
            String list = sh("ipvsadm -L -n");
            System.out.println(list);
            check("persistence-for-client-ip-affinity", list.lines().anyMatch(
                    l -> l.contains("10.96.0.20:80 rr persistent 600")), list);
            check("nodeport-destinations", list.contains("10.0.2.1:30080 rr"), list);
            int dummy = links.linkIndex("kube-ipvs0");
            Set<String> bound = new TreeSet<>();
            for (InterfaceAddress a : links.addresses(dummy)) {
                bound.add(a.address() + "/" + a.prefixLength());
            }
            check("addresses-bound-java", bound.equals(new TreeSet<>(List.of("10.96.0.10/32", "10.96.0.20/32",
                    "10.96.0.30/32", "10.96.0.53/32", "fd00:96::10/128"))), bound.toString());
            String ip = sh("ip -o addr show dev kube-ipvs0");
            check("addresses-bound-ip", ip.contains("inet 10.96.0.10/32") && ip.contains("inet6 fd00:96::10/128"), ip);
        }
        String sets = sh("ipset list KUBE-CLUSTER-IP; ipset list KUBE-NODE-PORT-TCP; ipset list KUBE-6-CLUSTER-IP");
        check("ipsets", sets.contains("10.96.0.10,tcp:80") && sets.contains("10.96.0.53,udp:53")
                && sets.contains("30080") && sets.contains("fd00:96::10,tcp:80"), sets);
        String nat = sh("iptables-save -t nat");
        check("iptables-rules", nat.contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES")
                && nat.contains("--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ"), nat);
        String timeouts = sh("ipvsadm -L --timeout");
        check("timeouts-set-config", timeouts.contains("900 30 60"), timeouts);

        // --- 2. Real traffic: client namespace -> ClusterIP -> both backend namespaces.
        Set<String> answers = new TreeSet<>();
        for (int i = 0; i < 6; i++) {
            answers.add(sh("ip netns exec pm-c socat -T3 - TCP:10.96.0.10:80,connect-timeout=3 </dev/null").trim());
        }
        check("clusterip-reaches-both-backends", answers.equals(Set.of("b1", "b2")), answers.toString());
        Set<String> np = new TreeSet<>();
        for (int i = 0; i < 4; i++) {
            np.add(sh("ip netns exec pm-c socat -T3 - TCP:10.0.1.1:30080,connect-timeout=3 </dev/null").trim());
        }
        check("nodeport-reaches-both-backends", np.equals(Set.of("b1", "b2")), np.toString());
        Set<String> sticky = new TreeSet<>();
        for (int i = 0; i < 4; i++) {
            sticky.add(sh("ip netns exec pm-c socat -T3 - TCP:10.96.0.20:80,connect-timeout=3 </dev/null").trim());
        }
        check("client-ip-affinity-sticks", sticky.size() == 1 && !sticky.contains(""), sticky.toString());

        // --- 3. A restart changes nothing that is already right.
        IpvsBackend restarted = new IpvsBackend(ctx, settings, new ExecIpset(), Clock.systemUTC());
        SyncResult again = restarted.sync(s1, ChangeSet.NONE, true);
        check("restart-changes-nothing", again.counts().get("kernelOps") == 0L, again.counts().toString());
        restarted.close();

        // --- 4. Graceful termination: an open TCP connection keeps its removed destination at weight 0.
        Socket held = new Socket();
        held.bind(new InetSocketAddress("10.0.1.1", 0));
        held.connect(new InetSocketAddress("10.96.0.30", 90), 5000);
        String greeting = readLine(held.getInputStream());
        check("held-connection-on-b2", greeting.equals("b2"), greeting);
        ProxyState s2 = state(false); // hold: b2:9090 -> b1:9090; dns loses its UDP endpoint; web loses nothing
        backend.sync(s2, new ChangeSet(s2.services().keySet(), false), false);
        try (IpvsClient ipvs = IpvsClient.open()) {
            List<RealServer> hold = ipvs.destinations(new ServiceKey(Protocol.TCP, "10.96.0.30", 90));
            RealServer b2 = find(hold, "10.0.3.2:9090");
            RealServer b1 = find(hold, "10.0.2.2:9090");
            check("removed-tcp-destination-drains-at-weight-0", b2 != null && b2.weight() == 0
                    && b2.activeConnections() == 1 && b1 != null && b1.weight() == 1, hold.toString());
            List<RealServer> dns = ipvs.destinations(new ServiceKey(Protocol.UDP, "10.96.0.53", 53));
            check("removed-udp-destination-deleted-at-once", find(dns, "10.0.3.2:5353") == null
                    && find(dns, "10.0.2.2:5353") != null, dns.toString());
        }
        String drainList = sh("ipvsadm -L -n -t 10.96.0.30:90");
        check("ipvsadm-shows-weight-0", drainList.lines().anyMatch(l -> l.matches("\\s+-> 10\\.0\\.3\\.2:9090\\s+Masq\\s+0\\s+1\\s+0\\s*")),
                drainList);
        Set<String> newConns = new TreeSet<>();
        for (int i = 0; i < 3; i++) {
            newConns.add(sh("ip netns exec pm-c socat -T3 - TCP:10.96.0.30:90,connect-timeout=3 </dev/null | head -1").trim());
        }
        check("no-new-connections-to-draining-destination", newConns.equals(Set.of("b1")), newConns.toString());
        // An abortive close (RST) ends the connection at once; the periodic check then deletes the destination.
        held.setSoLinger(true, 0);
        held.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
        boolean gone = waitFor(deadline, () -> {
            try (IpvsClient ipvs = IpvsClient.open()) {
                return find(ipvs.destinations(new ServiceKey(Protocol.TCP, "10.96.0.30", 90)), "10.0.3.2:9090") == null;
            } catch (NetlinkException e) {
                return false;
            }
        });
        check("drained-destination-deleted-when-idle", gone && backend.draining().isEmpty(),
                sh("ipvsadm -L -n -t 10.96.0.30:90") + " draining " + backend.draining());

        // --- 5. Hand-made changes are put back.
        sh("ipvsadm -e -t 10.96.0.10:80 -r 10.0.2.2:8080 -m -w 7; ipvsadm -D -u 10.96.0.53:53;"
                + " ipvsadm -A -t 10.99.99.99:1234 -s rr; ipvsadm -A -t 10.200.0.1:80 -s rr;"
                + " ip addr del 10.96.0.10/32 dev kube-ipvs0; ip addr add 10.96.9.9/32 dev kube-ipvs0");
        backend.sync(s2, ChangeSet.NONE, false); // a partial sync: services and addresses
        String afterPartial = sh("ipvsadm -S -n; ip -o addr show dev kube-ipvs0");
        check("partial-sync-repairs-services-and-addresses", afterPartial.contains("-A -u 10.96.0.53:53 -s rr")
                && !afterPartial.contains("10.99.99.99") && afterPartial.contains("-A -t 10.200.0.1:80 -s rr")
                && afterPartial.contains("10.96.0.10/32") && !afterPartial.contains("10.96.9.9"), afterPartial);
        io.pointsman.core.spi.DriftReport drift = backend.checkDrift(); // what the daemon runs every sync period
        check("drift-check-finds-hand-made-weight", !drift.isEmpty(), drift.toString());
        backend.sync(s2, ChangeSet.NONE, false); // the sync that follows a drift report: destinations too
        check("drift-check-clean-after-repair", backend.checkDrift().isEmpty(), "");
        String afterFull = sorted(sh("ipvsadm -S -n | grep -v 10.200.0.1"));
        check("full-sync-repairs-weights", afterFull.equals(sorted(desiredText(backend, s2))),
                "kernel:\n" + afterFull + "desired:\n" + desiredText(backend, s2));
        Set<String> again2 = new TreeSet<>();
        for (int i = 0; i < 4; i++) {
            again2.add(sh("ip netns exec pm-c socat -T3 - TCP:10.96.0.10:80,connect-timeout=3 </dev/null").trim());
        }
        check("traffic-after-repair", again2.equals(Set.of("b1", "b2")), again2.toString());

        // --- 6. Errors name the operation and the errno; the scheduler is checked against the kernel.
        try (IpvsClient ipvs = IpvsClient.open()) {
            ipvs.newService(VirtualServer.of(new ServiceKey(Protocol.TCP, "10.96.0.10", 80), "rr", 0));
            check("duplicate-service-is-eexist", false, "no error");
        } catch (NetlinkException e) {
            check("duplicate-service-is-eexist", e.getMessage().startsWith("IPVS_CMD_NEW_SERVICE 10.96.0.10:80/TCP: EEXIST (17)"),
                    e.getMessage());
        }
        ProxyConfig bad = config("nosuch", List.of());
        IpvsBackend badBackend = new IpvsBackend(new BackendContext(bad, new ProxyMetrics("ipvs"), new ExecNetfilter(),
                Set.of(), false));
        try {
            badBackend.sync(s2, ChangeSet.NONE, true);
            check("unknown-scheduler-refused", false, "synced");
        } catch (SyncException e) {
            check("unknown-scheduler-refused", e.getMessage().contains("no such IPVS scheduler"), e.getMessage());
        } finally {
            badBackend.close();
        }
        try (IpvsClient ipvs = IpvsClient.open()) {
            check("probe-service-removed", dump(ipvs).keySet().stream().noneMatch(k -> k.port() == 20000), "");
        }

        // --- 7. Graceful termination's bound: an open connection no longer delays deletion past it.
        IpvsBackend bounded = new IpvsBackend(ctx, settings.withGraceful(Duration.ofSeconds(4), Duration.ofSeconds(1)),
                new ExecIpset(), Clock.systemUTC());
        bounded.sync(s2, ChangeSet.NONE, true);
        Socket held2 = new Socket();
        held2.bind(new InetSocketAddress("10.0.1.1", 0));
        held2.connect(new InetSocketAddress("10.96.0.30", 90), 5000);
        readLine(held2.getInputStream()); // lands on b1:9090, the only destination
        bounded.sync(state(true), new ChangeSet(s2.services().keySet(), false), false); // hold back to b2 only
        boolean drainingNow = bounded.draining().size() == 1;
        boolean deleted = waitFor(System.nanoTime() + TimeUnit.SECONDS.toNanos(30), () -> {
            try (IpvsClient ipvs = IpvsClient.open()) {
                return find(ipvs.destinations(new ServiceKey(Protocol.TCP, "10.96.0.30", 90)), "10.0.2.2:9090") == null;
            } catch (NetlinkException e) {
                return false;
            }
        });
        check("draining-destination-deleted-after-bound", drainingNow && deleted && !held2.isClosed(),
                "draining " + drainingNow + " deleted " + deleted);
        held2.setSoLinger(true, 0);
        held2.close();
        bounded.close();

        // --- 8. Scale: a few hundred services make the kernel's dumps span several datagrams.
        ProxyState big = withExtraServices(s2, 300);
        long t = System.nanoTime();
        SyncResult rb = backend.sync(big, new ChangeSet(big.services().keySet(), false), false);
        long syncMs = (System.nanoTime() - t) / 1_000_000;
        t = System.nanoTime();
        int dumped;
        int datagrams;
        long dests = 0;
        try (IpvsClient ipvs = IpvsClient.open()) {
            Map<ServiceKey, VirtualServer> all = dump(ipvs);
            datagrams = ipvs.lastDatagrams();
            dumped = all.size();
            for (List<RealServer> l : destinations(ipvs, all).values()) {
                dests += l.size();
            }
        }
        long dumpMs = (System.nanoTime() - t) / 1_000_000;
        long ipvsadmServices = sh("ipvsadm -S -n").lines().filter(l -> l.startsWith("-A ")).count();
        System.out.println("scale: synced " + rb.counts() + " in " + syncMs + " ms; dumped " + dumped + " services and "
                + dests + " destinations in " + dumpMs + " ms (emulated CPU); the service dump took " + datagrams
                + " datagrams");
        check("multi-datagram-dump", dumped == 309 && ipvsadmServices == 309 && dests == 613 && datagrams > 1,
                "dumped " + dumped + " ipvsadm " + ipvsadmServices + " dests " + dests + " datagrams " + datagrams);
        backend.close();

        // --- 9. Cleanup removes everything but the excluded CIDR's services.
        boolean failed = IpvsCleanup.run(new ExecNetfilter(), new ExecIpset(), settings);
        String left = sh("ipvsadm -S -n; ip link show kube-ipvs0 2>&1; ipset list -n; iptables-save -t nat | grep KUBE-");
        check("cleanup", !failed && left.contains("-A -t 10.200.0.1:80 -s rr") && left.lines().filter(l -> l.startsWith("-A ")).count() == 1
                && left.contains("does not exist") && !left.contains("KUBE-"), left);
    }

    private static ProxyConfig config(String scheduler, List<String> exclude) {
        ProxyConfig.Builder b = ProxyConfig.defaults().toBuilder();
        b.mode = "ipvs";
        b.clusterCIDRs = List.of("10.0.0.0/8", "fd00::/8");
        b.ipvs = new io.pointsman.core.config.IpvsOptions(Duration.ofSeconds(30), Duration.ZERO, scheduler, exclude,
                false, Duration.ofSeconds(900), Duration.ofSeconds(30), Duration.ofSeconds(60));
        return b.build();
    }

    /** The cluster: web (2 endpoints, NodePort), sticky (ClientIP), dns (UDP), hold (TCP), web6 (IPv6). */
    static ProxyState state(boolean first) {
        Map<ServicePortName, ServicePort> svcs = new LinkedHashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        ServicePortName web = name("web", Protocol.TCP);
        svcs.put(web, ServicePort.clusterIp(web, "10.96.0.10", 80).withNodePort(30080));
        eps.put(web, List.of(ep("10.0.2.2", 8080), ep("10.0.3.2", 8080)));
        ServicePortName sticky = name("sticky", Protocol.TCP);
        svcs.put(sticky, new ServicePort(sticky, ServiceType.CLUSTER_IP, List.of("10.96.0.20"), 80, 0, List.of(),
                List.of(), List.of(), 600, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, ""));
        eps.put(sticky, List.of(ep("10.0.2.2", 8080), ep("10.0.3.2", 8080)));
        ServicePortName dns = name("dns", Protocol.UDP);
        svcs.put(dns, ServicePort.clusterIp(dns, "10.96.0.53", 53));
        eps.put(dns, first ? List.of(ep("10.0.2.2", 5353), ep("10.0.3.2", 5353)) : List.of(ep("10.0.2.2", 5353)));
        ServicePortName hold = name("hold", Protocol.TCP);
        svcs.put(hold, ServicePort.clusterIp(hold, "10.96.0.30", 90));
        eps.put(hold, first ? List.of(ep("10.0.3.2", 9090)) : List.of(ep("10.0.2.2", 9090)));
        ServicePortName web6 = name("web6", Protocol.TCP);
        svcs.put(web6, ServicePort.clusterIp(web6, "fd00:96::10", 80));
        eps.put(web6, List.of(ep("fd00:2::2", 8080)));
        // The node's addresses as the backend finds them on the VM's interfaces (NodePorts listen on each).
        NodeInfo node = new NodeInfo(NODE, Map.of(), List.of("10.0.1.1", "10.0.2.1", "10.0.3.1"), List.of());
        return new ProxyState(node, svcs, eps);
    }

    /** {@code state} plus {@code n} ClusterIP services 10.97.x.y:80 with two endpoints each. */
    static ProxyState withExtraServices(ProxyState state, int n) {
        Map<ServicePortName, ServicePort> svcs = new LinkedHashMap<>(state.services());
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>(state.endpoints());
        for (int i = 0; i < n; i++) {
            ServicePortName sp = name("extra-" + i, Protocol.TCP);
            svcs.put(sp, ServicePort.clusterIp(sp, "10.97." + (i / 250) + "." + (i % 250 + 1), 80));
            eps.put(sp, List.of(ep("10.0.2.2", 8080), ep("10.0.3.2", 8080)));
        }
        return new ProxyState(state.node(), svcs, eps);
    }

    private static ServicePortName name(String n, Protocol p) {
        return new ServicePortName("default", n, "p", p);
    }

    private static Endpoint ep(String ip, int port) {
        return Endpoint.ready(ip, port, NODE);
    }

    /** Client namespace and two backend namespaces, each on a veth pair to the VM's root namespace. */
    private static void setUpNetwork() {
        StringBuilder s = new StringBuilder("set -e\n");
        String[][] nets = {{"pm-c", "1"}, {"pm-b1", "2"}, {"pm-b2", "3"}};
        for (String[] n : nets) {
            String ns = n[0];
            String i = n[1];
            s.append("ip netns add ").append(ns).append('\n')
                    .append("ip link add v").append(i).append(" type veth peer name p").append(i).append('\n')
                    .append("ip link set p").append(i).append(" netns ").append(ns).append('\n')
                    .append("ip addr add 10.0.").append(i).append(".1/24 dev v").append(i).append('\n')
                    .append("ip link set v").append(i).append(" up\n")
                    .append("ip netns exec ").append(ns).append(" ip addr add 10.0.").append(i).append(".2/24 dev p")
                    .append(i).append('\n')
                    .append("ip netns exec ").append(ns).append(" ip link set lo up\n")
                    .append("ip netns exec ").append(ns).append(" ip link set p").append(i).append(" up\n")
                    .append("ip netns exec ").append(ns).append(" ip route add default via 10.0.").append(i).append(".1\n");
        }
        for (String b : List.of("1", "2")) {
            String ns = "pm-b" + b;
            String port = "b" + b;
            s.append("ip netns exec ").append(ns).append(" socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo ")
                    .append(port).append("' >/dev/null 2>&1 &\n")
                    .append("ip netns exec ").append(ns).append(" socat TCP-LISTEN:9090,fork,reuseaddr SYSTEM:'echo ")
                    .append(port).append("; sleep 120' >/dev/null 2>&1 &\n");
        }
        s.append("sleep 1\n");
        String out = sh(s.toString());
        System.out.println("network set up " + out);
    }

    private static Map<ServiceKey, VirtualServer> dump(IpvsClient ipvs) throws NetlinkException {
        Map<ServiceKey, VirtualServer> m = new java.util.TreeMap<>();
        for (VirtualServer vs : ipvs.services()) {
            m.put(vs.key(), vs);
        }
        return m;
    }

    private static Map<ServiceKey, List<RealServer>> destinations(IpvsClient ipvs, Map<ServiceKey, VirtualServer> svcs)
            throws NetlinkException {
        Map<ServiceKey, List<RealServer>> m = new LinkedHashMap<>();
        for (ServiceKey k : svcs.keySet()) {
            m.put(k, ipvs.destinations(k));
        }
        return m;
    }

    /** The IPVS section of the backend's render, in ipvsadm -S -n form. */
    private static String desiredText(IpvsBackend backend, ProxyState state) {
        String all = backend.renderFullSync(state);
        StringBuilder b = new StringBuilder();
        for (String l : all.split("\n")) {
            if (l.startsWith("# addresses")) {
                break;
            }
            if (!l.startsWith("#")) {
                b.append(l).append('\n');
            }
        }
        return b.toString();
    }

    private static RealServer find(List<RealServer> l, String hostPort) {
        return l.stream().filter(r -> r.hostPort().equals(hostPort)).findFirst().orElse(null);
    }

    private static boolean waitFor(long deadlineNanos, BooleanSupplier ok) throws InterruptedException {
        while (System.nanoTime() < deadlineNanos) {
            if (ok.getAsBoolean()) {
                return true;
            }
            Thread.sleep(500);
        }
        return ok.getAsBoolean();
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            b.append((char) c);
        }
        return b.toString();
    }

    private static String sorted(String text) {
        String[] lines = text.strip().split("\n");
        Arrays.sort(lines);
        return String.join("\n", lines) + "\n";
    }

    private static void check(String name, boolean ok, String detail) {
        total++;
        if (ok) {
            passed++;
            System.out.println("CHECK " + name + " OK");
        } else {
            System.out.println("CHECK " + name + " FAIL " + detail.replace("\n", "\n    "));
        }
        System.out.flush();
    }

    static String sh(String script) {
        try {
            Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            return new String(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "cannot run: " + e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    static List<String> lines(String s) {
        return new ArrayList<>(s.lines().toList());
    }
}
