package io.pointsman.core.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real UDP flows in a throwaway namespace, DNATed by hand-written rules the way a proxy's are:
 * the cleaner, through the real conntrack tool, deletes exactly the flows whose endpoint went away.
 *
 * <pre>
 *   namespace: lo 127.0.0.1 + "pods" 10.244.0.2, 10.244.0.3 (UDP servers answering "a" / "b")
 *              d0 10.1.0.1/24 (veth to d1, nothing behind it; default route, so service IPs are routable)
 *   nat OUTPUT: 10.96.0.10:53 and 10.1.0.1:30053 → DNAT to an endpoint of "dns"
 *               10.96.0.11:53 → 10.244.0.3:5353 ("other")
 * </pre>
 */
@Timeout(60)
class ConntrackKernelTest {
    private static final ServicePortName DNS = new ServicePortName("default", "dns", "dns", Protocol.UDP);
    private static final ServicePortName OTHER = new ServicePortName("default", "other", "dns", Protocol.UDP);
    private static final String POD_A = "10.244.0.2";
    private static final String POD_B = "10.244.0.3";
    private static final String NODE_IP = "10.1.0.1";

    @Test
    void onlyFlowsToTheRemovedEndpointAreDeletedAndTheNextDatagramIsBalancedAgain() {
        Kernel.require("ip", "iptables-restore", "conntrack", "socat");
        try (Netns ns = Netns.create("ct")) {
            // A veth pair with both ends inside: an uplink where nothing answers (no dummy module needed).
            ns.exec("ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1");
            ns.exec("ip", "addr", "add", NODE_IP + "/24", "dev", "d0");
            ns.exec("ip", "link", "set", "d0", "up");
            ns.exec("ip", "link", "set", "d1", "up");
            ns.exec("ip", "route", "add", "default", "dev", "d0");
            ns.exec("ip", "addr", "add", POD_A + "/32", "dev", "lo");
            ns.exec("ip", "addr", "add", POD_B + "/32", "dev", "lo");
            List<Process> servers = new ArrayList<>();
            try {
                servers.add(server(ns, POD_A, "a"));
                servers.add(server(ns, POD_B, "b"));
                dnat(ns, POD_A);
                await(() -> "a".equals(send(ns, "10.96.0.10", 53, 40001)) && "b".equals(send(ns, POD_B, 5353, 40009)),
                        "the DNATed service and pod b answering");

                // One flow each: to the service IP, to the NodePort, to the other service, straight to
                // a pod, and to a remote port numbered like the NodePort (not addressed to this node).
                assertThat(send(ns, "10.96.0.10", 53, 40001)).isEqualTo("a");
                assertThat(send(ns, NODE_IP, 30053, 40002)).isEqualTo("a");
                assertThat(send(ns, "10.96.0.11", 53, 40003)).isEqualTo("b");
                assertThat(send(ns, POD_A, 5353, 40004)).isEqualTo("a");
                ns.execStatus("x\n", "socat", "-T", "0.2", "-", "UDP4:10.1.0.77:30053,sourceport=40005,reuseaddr");
                ExecConntrack conntrack = new ExecConntrack(ns.prefix());
                assertThat(sourcePorts(conntrack)).containsExactlyInAnyOrder(40001, 40002, 40003, 40004, 40005);

                ProxyMetrics metrics = new ProxyMetrics("iptables");
                UdpConntrackCleaner cleaner = new UdpConntrackCleaner(conntrack, metrics, Set.of(IpFamily.IPv4),
                        () -> List.of(NODE_IP));
                // A restart: every UDP port is checked, and flows to serving endpoints survive.
                UdpConntrackCleaner.Outcome first = cleaner.clean(state(POD_A));
                assertThat(first.checked()).containsExactlyInAnyOrder(DNS, OTHER);
                assertThat(first.totalDeleted()).isZero();
                assertThat(sourcePorts(conntrack)).hasSize(5);

                // The endpoint of "dns" moves from pod a to pod b: rules first, then the cleanup.
                dnat(ns, POD_B);
                assertThat(send(ns, "10.96.0.10", 53, 40001)).as("the old flow still follows its entry").isEqualTo("a");
                UdpConntrackCleaner.Outcome moved = cleaner.clean(state(POD_B));
                assertThat(moved.checked()).containsExactly(DNS);
                assertThat(moved.deleted()).containsEntry(IpFamily.IPv4, 2);
                assertThat(sourcePorts(conntrack)).containsExactlyInAnyOrder(40003, 40004, 40005);
                assertThat(send(ns, "10.96.0.10", 53, 40001)).as("same source port, new endpoint").isEqualTo("b");
                assertThat(send(ns, NODE_IP, 30053, 40002)).isEqualTo("b");
                assertThat(metrics.scrape())
                        .contains("kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family=\"IPv4\"} 2.0");
            } finally {
                servers.forEach(Process::destroyForcibly);
            }
        }
    }

    private static ProxyState state(String dnsEndpoint) {
        ServicePort dns = new ServicePort(DNS, ServiceType.NODE_PORT, List.of("10.96.0.10"), 53, 30053, List.of(),
                List.of(), List.of(), 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, "");
        ServicePort other = ServicePort.clusterIp(OTHER, "10.96.0.11", 53);
        return new ProxyState(new NodeInfo("n1", Map.of(), List.of(NODE_IP), List.of()), Map.of(DNS, dns, OTHER, other),
                Map.of(DNS, List.of(Endpoint.ready(dnsEndpoint, 5353, "n1")),
                        OTHER, List.of(Endpoint.ready(POD_B, 5353, "n1"))));
    }

    /** The nat rules of both services, "dns" pointing at {@code endpoint}; replaced as a whole. */
    private static void dnat(Netns ns, String endpoint) {
        String rules = "*nat\n:OUTPUT ACCEPT [0:0]\n-F OUTPUT\n"
                + "-A OUTPUT -d 10.96.0.10/32 -p udp --dport 53 -j DNAT --to-destination " + endpoint + ":5353\n"
                + "-A OUTPUT -d " + NODE_IP + "/32 -p udp --dport 30053 -j DNAT --to-destination " + endpoint + ":5353\n"
                + "-A OUTPUT -d 10.96.0.11/32 -p udp --dport 53 -j DNAT --to-destination " + POD_B + ":5353\n"
                + "COMMIT\n";
        Netns.Result r = ns.execStatus(rules, "iptables-restore", "--noflush");
        assertThat(r.exit()).as("iptables-restore: %s", r.output()).isZero();
    }

    private static Process server(Netns ns, String ip, String answer) {
        String classes;
        try {
            classes = Path.of(UdpNameResponder.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot locate the test classes", e);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(ns.prefix());
        cmd.addAll(List.of(java, "-Xmx16m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classes,
                UdpNameResponder.class.getName(), ip, "5353", answer));
        try {
            return new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot start " + cmd + ": " + e.getMessage(), e);
        }
    }

    /**
     * Datagrams from a fixed source port (one flow) until one is answered, at most three; the
     * reply's first line, or "" when none came. (socat's forking UDP server may miss a datagram
     * on a busy machine; a retry stays in the same flow.)
     */
    private static String send(Netns ns, String ip, int port, int sourcePort) {
        for (int attempt = 0; attempt < 3; attempt++) {
            Netns.Result r = ns.execStatus("x\n", "socat", "-t", "0.3", "-T", "1", "-", "UDP4:" + ip + ":" + port + ",sourceport="
                    + sourcePort + ",reuseaddr");
            String reply = r.exit() == 0 ? r.output().strip().lines().findFirst().orElse("") : "";
            if (!reply.isEmpty()) {
                return reply;
            }
        }
        return "";
    }

    private static List<Integer> sourcePorts(Conntrack conntrack) {
        try {
            return conntrack.list(IpFamily.IPv4, Protocol.UDP).stream().map(ConntrackFlow::origSrcPort)
                    .filter(p -> p >= 40001 && p <= 40005).toList();
        } catch (ConntrackException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }

    private static void await(java.util.function.BooleanSupplier ok, String what) {
        for (int i = 0; i < 40; i++) {
            if (ok.getAsBoolean()) {
                return;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new AssertionError("timed out waiting for " + what);
    }
}
