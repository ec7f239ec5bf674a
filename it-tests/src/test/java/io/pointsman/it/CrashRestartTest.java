package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.pointsman.core.testing.Kernel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The daemon is SIGKILLed while a client keeps connecting to a ClusterIP and a NodePort, and
 * started again: the rules it left keep serving during the gap, the restarted daemon takes over
 * without a moment without rules, and its first sync changes nothing because nothing changed
 * (the node's KUBE-* rules are the same before the crash, during the gap and after the first
 * sync, and that sync's restore input deletes nothing and inserts no jump rule).
 */
class CrashRestartTest {
    private static final String NODE_NAME = "lab-node";
    private static final ClusterObjects.Port HTTP = new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 30080);
    private static final ClusterObjects.Port HTTP_ONLY = new ClusterObjects.Port("http", "TCP", 80, Lab.POD_TCP_PORT, 0);
    private static final String WEB_IP = "10.96.2.10";
    private static final String EMPTY_IP = "10.96.2.11";
    /** How long the node runs without a daemon. */
    private static final Duration GAP = Duration.ofSeconds(3);

    @Test
    @Timeout(240)
    void aKilledDaemonsRulesKeepServingAndItsSuccessorChangesNothing() throws Exception {
        Kernel.require("ip", "iptables-restore", "iptables-save", "socat");
        Daemon.jar(); // fails in CI, skips elsewhere, when the jar is missing
        try (RunDir runDir = RunDir.create(); Lab lab = Lab.create(runDir); MockApi api = MockApi.start()) {
            KubernetesClient k = api.client();
            k.nodes().resource(ClusterObjects.node(NODE_NAME, Lab.NODE_IP)).create();
            k.services().resource(ClusterObjects.service("web", WEB_IP, HTTP)).create();
            k.discovery().v1().endpointSlices()
                    .resource(ClusterObjects.endpointSlice("web", "web-1", NODE_NAME, lab.pods(), HTTP)).create();
            k.services().resource(ClusterObjects.service("empty", EMPTY_IP, HTTP_ONLY)).create();
            ApiRelay relay = ApiRelay.connect(lab, api.port());
            Path jar = DaemonProcess.jarCopy(runDir); // both daemons run the same build
            RestoreWrapper restore = RestoreWrapper.install(runDir);
            String[] flags = flags(relay.kubeconfig("kubeconfig", "lab-token"));
            Map<String, String> env = Map.of("PATH", restore.path());

            DaemonProcess first = DaemonProcess.start(lab, jar, env, "pointsman-1.log", flags);
            DaemonProcess second = null;
            try {
                await("first daemon's first sync").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300))
                        .failFast("the daemon exited", () -> !first.alive())
                        .until(() -> !first.logLines("full sync:").isEmpty()
                                && Probe.tcp(lab.client(), WEB_IP, 80, Duration.ofSeconds(1)).answered());
                String beforeCrash = kubeRules(lab);
                int restoresBefore = restore.calls();

                ClientLoop loop = new ClientLoop(lab.client(), List.of(WEB_IP + ":80", Lab.NODE_IP + ":" + HTTP.nodePort()),
                        20_000, Duration.ofSeconds(120), Duration.ofSeconds(2)).pause(Duration.ofMillis(20)).start();
                Thread.sleep(2_000);
                first.kill();
                long killedAtMs = loop.nowMs();
                Thread.sleep(GAP.toMillis());
                String duringGap = kubeRules(lab);

                second = DaemonProcess.start(lab, jar, env, "pointsman-2.log", flags);
                DaemonProcess restarted = second;
                await("restarted daemon's first sync").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                        .failFast("the restarted daemon exited", () -> !restarted.alive())
                        .until(() -> !restarted.logLines("full sync:").isEmpty());
                long syncedAtMs = loop.nowMs();
                String afterRestart = kubeRules(lab);
                Thread.sleep(3_000);
                ClientLoop.Outcome traffic = loop.stop();

                List<String> firstSyncPayloads = restore.payloadsFrom(restoresBefore + 1);
                String payload = firstSyncPayloads.isEmpty() ? "" : firstSyncPayloads.get(0);
                String initialPayload = restore.payload(1);
                long gapAttempts = traffic.attempts().stream()
                        .filter(a -> a.startedMs() >= killedAtMs && a.startedMs() < syncedAtMs).count();
                System.out.printf("[crash] client: %s%n", traffic);
                System.out.printf("[crash] %d connections between the SIGKILL and the restarted daemon's first sync"
                        + " (%d ms without a daemon or before its first sync)%n", gapAttempts, syncedAtMs - killedAtMs);
                System.out.printf("[crash] restarted daemon's first restore: %d lines, %d chains declared, %d rules,"
                        + " %d jump rules inserted, %d chains deleted; the first daemon's first restore: %d lines, %d"
                        + " jump rules inserted%n", payload.lines().count(), count(payload, ":"), count(payload, "-A "),
                        count(payload, "-I "), count(payload, "-X "), initialPayload.lines().count(),
                        count(initialPayload, "-I "));
                System.out.println("[crash] ---- restarted daemon's first restore input ----\n" + payload
                        + "[crash] ---- end ----");
                System.out.println("[crash] " + second.logLines("sync:"));

                assertThat(traffic.failures()).as("connections that failed, of %s", traffic).isEmpty();
                assertThat(gapAttempts).as("connections made while no daemon ran or before its first sync").isPositive();
                assertThat(Set.copyOf(traffic.tally().keySet())).isEqualTo(Set.of("pod-a", "pod-b"));
                assertThat(duringGap).as("KUBE-* rules after the SIGKILL").isEqualTo(beforeCrash);
                assertThat(afterRestart).as("KUBE-* rules after the restarted daemon's first sync").isEqualTo(beforeCrash);
                assertThat(firstSyncPayloads).as("restores by the restarted daemon").isNotEmpty();
                assertThat(payload.lines()).as("restarted daemon's first restore input")
                        .noneMatch(l -> l.startsWith("-X ") || l.startsWith("-F") || l.startsWith("-D ")
                                || l.startsWith("-I "))
                        .noneMatch(l -> l.startsWith(":") && !l.startsWith(":KUBE-"));
                // The same rules the first daemon wrote at its start, minus the jump rules it had to insert then.
                List<String> initialWithoutInserts = initialPayload.lines().filter(l -> !l.startsWith("-I ")).toList();
                assertThat(payload.lines().toList()).as("restarted daemon's first restore vs the first daemon's")
                        .isEqualTo(initialWithoutInserts);
                assertThat(second.logLines("sync failed")).isEmpty();
            } catch (AssertionError | RuntimeException e) {
                System.out.println(first.describe());
                if (second != null) {
                    System.out.println(second.describe());
                }
                System.out.println("---- node rules ----\n" + lab.nodeRules());
                throw e;
            } finally {
                if (second != null) {
                    second.stop();
                }
                first.stop();
            }
        }
    }

    static String[] flags(Path kubeconfig) {
        List<String> f = new ArrayList<>(DaemonProcess.baseFlags(kubeconfig, NODE_NAME));
        f.addAll(List.of("--metrics-bind-address", Daemon.METRICS_ADDRESS, "--healthz-bind-address",
                Daemon.HEALTHZ_ADDRESS, "--iptables-min-sync-period", "1s", "--iptables-sync-period", "30s"));
        return f.toArray(new String[0]);
    }

    /**
     * Every rule and chain of the node's filter and nat tables that names a KUBE-* chain, without
     * counters, in iptables-save order.
     */
    static String kubeRules(Lab lab) {
        StringBuilder out = new StringBuilder();
        for (String table : List.of("filter", "nat")) {
            String save = lab.node().exec("iptables-save", "-t", table);
            out.append('*').append(table).append('\n');
            save.lines().filter(l -> l.contains("KUBE-"))
                    .map(l -> l.replaceAll("\\[\\d+:\\d+\\]", "[0:0]"))
                    .forEach(l -> out.append(l).append('\n'));
        }
        return out.toString();
    }

    private static long count(String payload, String prefix) {
        return payload.lines().filter(l -> l.startsWith(prefix)).count();
    }
}
