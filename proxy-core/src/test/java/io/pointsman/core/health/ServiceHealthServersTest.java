package io.pointsman.core.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.http.ProxyHealth;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Real listeners on 127.0.0.1 asked by a real HTTP client. */
class ServiceHealthServersTest {
    private static final String NODE = "node-a";

    private final HttpClient client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final TestClock clock = new TestClock();
    private final ProxyHealth health = new ProxyHealth(Duration.ofSeconds(60), clock, () -> true);
    private final List<String> reported = new ArrayList<>();
    private final ServiceHealthServers servers = new ServiceHealthServers(health, state -> List.of("127.0.0.1"),
            (ns, name, address, error) -> reported.add(ns + "/" + name + " " + address + ": " + error));

    @AfterEach
    void close() {
        servers.close();
    }

    @Test
    void answersTheLocalReadyEndpointCountWithUpstreamsBodyAndHeaders() throws Exception {
        int port = freePort();
        servers.sync(state(lb("web", port, "http", "https"),
                endpoints("web", "http", local("10.244.1.2"), local("10.244.1.3"), remote("10.244.2.2")),
                endpoints("web", "https", local("10.244.1.2"))));
        assertThat(servers.listeners()).containsExactly(
                new ServiceHealthServers.Listener("default", "web", "127.0.0.1", port, 2));

        HttpResponse<String> r = get(port, "/healthz");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
        assertThat(r.headers().firstValue("X-Load-Balancing-Endpoint-Weight")).hasValue("2");
        assertThat(r.body()).isEqualTo("{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"web\"\n"
                + "\t},\n\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}");
        // Any path: load balancers probe whatever path they were configured with.
        assertThat(get(port, "/some/other/path").statusCode()).isEqualTo(200);
    }

    @Test
    void countChangesAreServedWithoutRebindingAnd503WhenNoneIsLocal() throws Exception {
        int port = freePort();
        servers.sync(state(lb("web", port, "http"), endpoints("web", "http", local("10.244.1.2"))));
        assertThat(get(port, "/").statusCode()).isEqualTo(200);

        // Terminating (not ready) local endpoints do not count: the node is drained.
        Endpoint terminating = new Endpoint("10.244.1.2", 8080, false, true, true, NODE, "", Set.of(), Set.of());
        servers.sync(state(lb("web", port, "http"), endpoints("web", "http", terminating, remote("10.244.2.2"))));
        HttpResponse<String> r = get(port, "/");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("X-Load-Balancing-Endpoint-Weight")).hasValue("0");
        assertThat(r.body()).contains("\"localEndpoints\": 0,").contains("\"serviceProxyHealthy\": true");
    }

    @Test
    void anUnhealthyProxyAnswers503EvenWithLocalEndpoints() throws Exception {
        int port = freePort();
        servers.sync(state(lb("web", port, "http"), endpoints("web", "http", local("10.244.1.2"))));
        health.updated(IpFamily.IPv4);
        health.queuedUpdate(IpFamily.IPv4);
        clock.now = clock.now.plusSeconds(61);

        HttpResponse<String> r = get(port, "/");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("\"localEndpoints\": 1,").contains("\"serviceProxyHealthy\": false");
        health.updated(IpFamily.IPv4);
        assertThat(get(port, "/").statusCode()).isEqualTo(200);
    }

    @Test
    void listenersCloseWhenTheServiceGoesOrStopsBeingLocal() throws Exception {
        int a = freePort();
        int b = freePort();
        servers.sync(state(lb("a", a, "http"), lb("b", b, "http")));
        assertThat(servers.listeners()).extracting(ServiceHealthServers.Listener::port).containsExactlyInAnyOrder(a, b);

        ServicePort clusterPolicy = withPolicy(lb("b", b, "http").get(0), TrafficPolicy.CLUSTER);
        servers.sync(state(List.of(clusterPolicy)));
        assertThat(servers.listeners()).isEmpty();
        assertThatThrownBy(() -> get(a, "/")).isInstanceOf(ConnectException.class);
        assertThatThrownBy(() -> get(b, "/")).isInstanceOf(ConnectException.class);
    }

    @Test
    void aMovedPortIsClosedAndTheNewOneOpened() throws Exception {
        int before = freePort();
        int after = freePort();
        servers.sync(state(lb("web", before, "http")));
        servers.sync(state(lb("web", after, "http")));
        assertThat(servers.listeners()).extracting(ServiceHealthServers.Listener::port).containsExactly(after);
        assertThatThrownBy(() -> get(before, "/")).isInstanceOf(ConnectException.class);
        assertThat(get(after, "/").statusCode()).isEqualTo(503);
    }

    @Test
    void aPortInUseIsReportedOnceAndRetriedAtTheNextSync() throws Exception {
        ServerSocket blocker = new ServerSocket();
        blocker.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        int port = blocker.getLocalPort();
        int other = freePort();
        ProxyState state = state(lb("web", port, "http"), lb("ok", other, "http"),
                endpoints("web", "http", local("10.244.1.2")));
        try {
            servers.sync(state);
            servers.sync(state);
            assertThat(servers.failing()).containsExactly("127.0.0.1:" + port);
            assertThat(reported).hasSize(1);
            assertThat(reported.get(0)).startsWith("default/web 127.0.0.1:" + port + ": ");
            // The other Service's listener is not held back by the failure.
            assertThat(get(other, "/").statusCode()).isEqualTo(503);
        } finally {
            blocker.close();
        }
        servers.sync(state);
        assertThat(servers.failing()).isEmpty();
        assertThat(get(port, "/").statusCode()).isEqualTo(200);
    }

    @Test
    void countsUniqueLocalReadyIpsOfThePrimaryFamilyOnly() {
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        List<ServicePort> svcs = lb("web", 31000, "http", "dns");
        eps.put(svcs.get(0).name(), List.of(local("10.244.1.2"), local("10.244.1.3"), local("fd00::2")));
        eps.put(svcs.get(1).name(), List.of(local("10.244.1.2"), remote("10.244.9.9")));
        ProxyState s = new ProxyState(node(), byName(svcs), eps);
        assertThat(ServiceHealthServers.desiredCounts(s)).containsExactly(Map.entry("default/web", 2));
    }

    @Test
    void servicesWithoutAHealthCheckNodePortGetNoListener() {
        ServicePort plain = ServicePort.clusterIp(new ServicePortName("default", "c", "http", Protocol.TCP),
                "10.96.0.1", 80);
        servers.sync(state(List.of(plain)));
        assertThat(servers.listeners()).isEmpty();
        assertThat(servers.failing()).isEmpty();
    }

    // ---- helpers ----

    private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    private static NodeInfo node() {
        return new NodeInfo(NODE, Map.of(), List.of("192.168.0.10"), List.of());
    }

    /** A LoadBalancer Service with externalTrafficPolicy Local, one service port per name. */
    private static List<ServicePort> lb(String name, int hcnp, String... portNames) {
        List<ServicePort> out = new ArrayList<>();
        int i = 0;
        for (String p : portNames) {
            ServicePortName n = new ServicePortName("default", name, p, Protocol.TCP);
            out.add(new ServicePort(n, ServiceType.LOAD_BALANCER, List.of("10.96.0." + (10 + i)), 80 + i, 30080 + i,
                    List.of(), List.of("203.0.113.10"), List.of(), 0, TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER,
                    hcnp, ""));
            i++;
        }
        return out;
    }

    private static ServicePort withPolicy(ServicePort s, TrafficPolicy external) {
        return new ServicePort(s.name(), s.type(), s.clusterIPs(), s.port(), s.nodePort(), s.externalIPs(),
                s.loadBalancerIPs(), s.loadBalancerSourceRanges(), s.affinityTimeoutSeconds(), external,
                s.internalTrafficPolicy(), s.healthCheckNodePort(), s.trafficDistribution());
    }

    private record Eps(String service, String port, List<Endpoint> endpoints) {
    }

    private static Eps endpoints(String service, String port, Endpoint... eps) {
        return new Eps(service, port, List.of(eps));
    }

    private static Endpoint local(String ip) {
        return Endpoint.ready(ip, 8080, NODE);
    }

    private static Endpoint remote(String ip) {
        return Endpoint.ready(ip, 8080, "node-b");
    }

    private static Map<ServicePortName, ServicePort> byName(List<ServicePort> svcs) {
        Map<ServicePortName, ServicePort> m = new HashMap<>();
        svcs.forEach(s -> m.put(s.name(), s));
        return m;
    }

    private static ProxyState state(List<ServicePort> svcs) {
        return new ProxyState(node(), byName(svcs), Map.of());
    }

    private static ProxyState state(List<ServicePort> svcs, Eps... eps) {
        return stateOf(List.of(svcs), eps);
    }

    private static ProxyState state(List<ServicePort> a, List<ServicePort> b, Eps... eps) {
        List<ServicePort> all = new ArrayList<>(a);
        all.addAll(b);
        return stateOf(List.of(all), eps);
    }

    private static ProxyState stateOf(List<List<ServicePort>> groups, Eps[] eps) {
        List<ServicePort> all = new ArrayList<>();
        groups.forEach(all::addAll);
        Map<ServicePortName, List<Endpoint>> m = new HashMap<>();
        for (Eps e : eps) {
            ServicePort svc = all.stream().filter(s -> s.name().name().equals(e.service()) && s.name().port().equals(e.port()))
                    .findFirst().orElseThrow();
            m.put(svc.name(), e.endpoints());
        }
        return new ProxyState(node(), byName(all), m);
    }

    private static final class TestClock extends Clock {
        volatile Instant now = Instant.parse("2026-09-30T09:40:02Z");

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
