package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged daemon against fabric8's mock API (CRUD mode) on loopback: every request it makes
 * is allowed by deploy/clusterrole.yaml, every resource that role grants is used, and it records
 * the "Starting" Event on its Node naming the mode.
 */
class ApiAccessTest {
    private static final String NODE = "node-a";

    /** What a request asks for, in RBAC terms. */
    record Access(String groupResource, String verb) {
    }

    @Test
    void everyRequestTheDaemonMakesIsGrantedByTheClusterRoleAndEveryGrantIsUsed(@TempDir Path tmp) throws Exception {
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        try (KubernetesClient client = server.createClient()) {
            client.nodes().resource(ClusterObjects.node(NODE, "192.0.2.10")).create();
            ClusterObjects.Port http = new ClusterObjects.Port("http", "TCP", 80, 8080, 0);
            client.services().inNamespace(ClusterObjects.NAMESPACE)
                    .resource(ClusterObjects.service("web", "10.96.0.10", http)).create();
            client.discovery().v1().endpointSlices().inNamespace(ClusterObjects.NAMESPACE)
                    .resource(ClusterObjects.endpointSlice("web", "web-1", NODE,
                            List.of(new Lab.Pod("web-0", "10.244.1.5", null)), http)).create();
            int setupRequests = server.getRequestCount();
            for (int i = 0; i < setupRequests; i++) {
                server.takeRequest(1, TimeUnit.SECONDS);
            }

            Path kubeconfig = kubeconfig(tmp, server.getPort());
            try (HostDaemon daemon = HostDaemon.start(tmp.resolve("daemon.log"), "--kubeconfig", kubeconfig.toString(),
                    "--hostname-override", NODE, "--cluster-cidr", "10.244.0.0/16")) {
                await("first sync and the Starting event").atMost(Duration.ofSeconds(60))
                        .pollInterval(Duration.ofMillis(300))
                        .failFast("the daemon exited:\n" + daemon.describe(), () -> !daemon.process().isAlive())
                        .until(() -> daemon.log().contains("full sync:") && !events(client, "Starting").isEmpty());
                Event starting = events(client, "Starting").get(0);
                assertThat(starting.getType()).isEqualTo("Normal");
                assertThat(starting.getRegarding().getKind()).isEqualTo("Node");
                assertThat(starting.getRegarding().getName()).isEqualTo(NODE);
                assertThat(starting.getNote()).isEqualTo("Started Pointsman in iptables mode");
                assertThat(starting.getReportingController()).isEqualTo("pointsman");

                daemon.process().destroy();
                assertThat(daemon.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
                assertThat(daemon.process().exitValue()).as(daemon.describe()).isZero();
            }

            // The test's own event lookups are requests too: count only up to the daemon's exit.
            List<Access> used = new ArrayList<>();
            List<String> raw = new ArrayList<>();
            for (RecordedRequest r; (r = server.takeRequest(100, TimeUnit.MILLISECONDS)) != null; ) {
                String line = r.getMethod() + " " + r.getPath();
                if (r.getHeader("User-Agent") != null && r.getHeader("Authorization") != null
                        && r.getHeader("Authorization").equals("Bearer mock-token")) {
                    raw.add(line);
                    used.add(access(r.getMethod(), r.getPath()));
                }
            }
            assertThat(raw).as("the daemon's requests (told apart by its kubeconfig's token)").isNotEmpty();

            Map<String, Set<String>> granted = grants(clusterRole());
            for (int i = 0; i < used.size(); i++) {
                Access a = used.get(i);
                assertThat(granted.getOrDefault(a.groupResource(), Set.of()))
                        .as("request " + raw.get(i) + " needs " + a + "; the ClusterRole grants " + granted)
                        .contains(a.verb());
            }
            Map<String, Set<String>> usedByResource = new TreeMap<>();
            used.forEach(a -> usedByResource.computeIfAbsent(a.groupResource(), k -> new TreeSet<>()).add(a.verb()));
            assertThat(usedByResource.keySet()).as("resources the daemon used; requests: " + raw)
                    .isEqualTo(granted.keySet());
            assertThat(usedByResource).containsEntry("/services", Set.of("list", "watch"))
                    .containsEntry("/nodes", Set.of("list", "watch"))
                    .containsEntry("discovery.k8s.io/endpointslices", Set.of("list", "watch"))
                    .containsEntry("events.k8s.io/events", Set.of("create"));
        } finally {
            server.destroy();
        }
    }

    @Test
    void aHealthPortInUseIsRecordedAsAWarningEventOnTheNode(@TempDir Path tmp) throws Exception {
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        try (KubernetesClient client = server.createClient();
             ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            client.nodes().resource(ClusterObjects.node(NODE, "192.0.2.10")).create();
            Path kubeconfig = kubeconfig(tmp, server.getPort());
            try (HostDaemon daemon = HostDaemon.start(tmp.resolve("daemon.log"), HostDaemon.freePort(),
                    taken.getLocalPort(), "--kubeconfig", kubeconfig.toString(), "--hostname-override", NODE)) {
                assertThat(daemon.process().waitFor(30, TimeUnit.SECONDS)).as("exits\n" + daemon.describe()).isTrue();
                assertThat(daemon.process().exitValue()).as(daemon.describe()).isNotZero();
                assertThat(daemon.log()).contains("cannot listen on 127.0.0.1:" + taken.getLocalPort());
            }
            List<Event> failed = events(client, "FailedToStartProxierHealthcheck");
            assertThat(failed).as("posted before the process exited").singleElement().satisfies(e -> {
                assertThat(e.getType()).isEqualTo("Warning");
                assertThat(e.getRegarding().getKind()).isEqualTo("Node");
                assertThat(e.getRegarding().getName()).isEqualTo(NODE);
                assertThat(e.getNote()).startsWith("failed to start proxier healthz on 127.0.0.1:" + taken.getLocalPort() + ": ");
            });
            assertThat(events(client, "Starting")).as("never started").isEmpty();
        } finally {
            server.destroy();
        }
    }

    private static Path kubeconfig(Path dir, int port) throws java.io.IOException {
        Path kubeconfig = dir.resolve("kubeconfig");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: mock, cluster: {server: "http://127.0.0.1:%d"}}]
                users: [{name: mock, user: {token: mock-token}}]
                contexts: [{name: mock, context: {cluster: mock, user: mock}}]
                current-context: mock
                """.formatted(port));
        return kubeconfig;
    }

    private static List<Event> events(KubernetesClient client, String reason) {
        return client.events().v1().events().inNamespace("default").list().getItems().stream()
                .filter(e -> reason.equals(e.getReason())).toList();
    }

    private static ClusterRole clusterRole() throws Exception {
        String text = Files.readString(HostDaemon.repoRoot().resolve("deploy").resolve("clusterrole.yaml"));
        return new KubernetesSerialization().unmarshal(text, ClusterRole.class);
    }

    private static Map<String, Set<String>> grants(ClusterRole role) {
        Map<String, Set<String>> out = new TreeMap<>();
        for (PolicyRule r : role.getRules()) {
            for (String g : r.getApiGroups()) {
                for (String res : r.getResources()) {
                    out.computeIfAbsent(g + "/" + res, k -> new TreeSet<>()).addAll(r.getVerbs());
                }
            }
        }
        return out;
    }

    /** The RBAC group/resource and verb of an API request, e.g. GET /api/v1/nodes?watch=true → (/nodes, watch). */
    static Access access(String method, String pathAndQuery) {
        int q = pathAndQuery.indexOf('?');
        String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
        String query = q < 0 ? "" : pathAndQuery.substring(q + 1);
        String[] s = path.replaceFirst("^/", "").split("/");
        String group;
        int rest;
        if (s.length >= 3 && s[0].equals("api")) {
            group = "";
            rest = 2;
        } else if (s.length >= 4 && s[0].equals("apis")) {
            group = s[1];
            rest = 3;
        } else {
            throw new AssertionError("not a resource request: " + method + " " + pathAndQuery);
        }
        List<String> r = List.of(s).subList(rest, s.length);
        if (r.size() >= 3 && r.get(0).equals("namespaces")) {
            r = r.subList(2, r.size());
        }
        String resource = r.get(0);
        boolean named = r.size() >= 2;
        boolean watch = List.of(query.split("&")).contains("watch=true");
        String verb = switch (method) {
            case "GET" -> named ? "get" : watch ? "watch" : "list";
            case "POST" -> "create";
            case "PATCH" -> "patch";
            case "PUT" -> "update";
            case "DELETE" -> named ? "delete" : "deletecollection";
            default -> throw new AssertionError("unexpected method " + method + " " + pathAndQuery);
        };
        return new Access(group + "/" + resource, verb);
    }
}
