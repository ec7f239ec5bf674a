package io.pointsman.core.health;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pointsman.core.http.ProxyHealth;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The health-check NodePort servers of Services with {@code externalTrafficPolicy: Local}: one
 * HTTP listener per {@code healthCheckNodePort} on each address {@code nodePortAddresses} selects,
 * answering any path with upstream kube-proxy's JSON body and headers (see {@link HealthCheckReply}),
 * so a cloud load balancer sends traffic only to nodes that have a ready local endpoint.
 *
 * <p>{@link #sync(ProxyState)} runs after every successful sync: it opens listeners of new
 * Services, closes those of Services gone, and updates the counts the listeners answer with (a
 * count change never rebinds). A listener that cannot bind is logged and tried again at the next
 * sync; it never fails the sync or the daemon. Thread-safe.
 */
public final class ServiceHealthServers implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ServiceHealthServers.class);
    private static final int WORKERS = 2;

    /** Told when a listener of a Service cannot bind (e.g. to record a Kubernetes Event). */
    @FunctionalInterface
    public interface FailureListener {
        void failedToListen(String namespace, String name, String address, String error);
    }

    /** One open listener, as {@link #listeners()} reports it. */
    public record Listener(String namespace, String name, String ip, int port, int localEndpoints) {
    }

    /** What a listener answers for; replaced as a whole so a request sees one consistent value. */
    private record Target(String namespace, String name, int localEndpoints) {
    }

    private record Bind(String ip, int port) {
        String address() {
            return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + port;
        }
    }

    private static final class Running {
        final HttpServer server;
        volatile Target target;

        Running(HttpServer server, Target target) {
            this.server = server;
            this.target = target;
        }
    }

    private final ProxyHealth health;
    private final Function<ProxyState, List<String>> bindAddresses;
    private final FailureListener failures;
    private final ExecutorService workers;
    private final Map<Bind, Running> running = new HashMap<>();
    /** Binds that failed, with the error last logged for them, so a repeat is logged quietly. */
    private final Map<Bind, String> failed = new HashMap<>();
    private boolean closed;

    /**
     * @param bindAddresses the addresses to listen on for a state (see {@link NodePortBindAddresses})
     * @param failures told once per failing listener and error
     */
    public ServiceHealthServers(ProxyHealth health, Function<ProxyState, List<String>> bindAddresses,
                                FailureListener failures) {
        this.health = requireNonNull(health, "health");
        this.bindAddresses = requireNonNull(bindAddresses, "bindAddresses");
        this.failures = requireNonNull(failures, "failures");
        AtomicInteger n = new AtomicInteger();
        this.workers = new ThreadPoolExecutor(WORKERS, WORKERS, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "health-check-nodeport-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Servers for the daemon: addresses chosen by {@code nodePortAddresses} among this host's
     * interface addresses ({@link NodePortBindAddresses#interfaceAddresses()}).
     */
    public static ServiceHealthServers forNode(ProxyHealth health, List<String> nodePortAddresses,
                                               Set<IpFamily> families, FailureListener failures) {
        List<String> npa = List.copyOf(nodePortAddresses);
        Set<IpFamily> fam = Set.copyOf(families);
        Supplier<List<String>> local = NodePortBindAddresses::interfaceAddresses;
        return new ServiceHealthServers(health,
                state -> NodePortBindAddresses.select(npa, fam, npa.stream().allMatch("primary"::equals)
                        ? List.of() : local.get(), state.node()), failures);
    }

    /** The health-check node port of every Service that has one, with its local ready endpoint count. */
    static Map<Target, Integer> desired(ProxyState state) {
        // By Service: the health-check node port is a property of the Service, shared by its ports.
        Map<String, Integer> ports = new TreeMap<>();
        Map<String, ServicePortName> names = new HashMap<>();
        Map<String, IpFamily> primaryFamily = new HashMap<>();
        for (Map.Entry<ServicePortName, ServicePort> e : state.sortedServices().entrySet()) {
            ServicePort svc = e.getValue();
            if (svc.healthCheckNodePort() == 0 || !svc.externalPolicyLocal()) {
                continue;
            }
            String key = e.getKey().serviceKey();
            ports.putIfAbsent(key, svc.healthCheckNodePort());
            names.putIfAbsent(key, e.getKey());
            primaryFamily.putIfAbsent(key, IpFamily.of(svc.clusterIPs().get(0)));
        }
        Map<String, Set<String>> localIps = new HashMap<>();
        String nodeName = state.node().name();
        for (Map.Entry<ServicePortName, List<Endpoint>> e : state.endpoints().entrySet()) {
            String key = e.getKey().serviceKey();
            IpFamily family = primaryFamily.get(key);
            if (family == null) {
                continue;
            }
            for (Endpoint ep : e.getValue()) {
                // Ready only: a terminating endpoint still serves, but the LB should drain the node.
                if (ep.ready() && ep.isLocal(nodeName) && ep.family() == family) {
                    localIps.computeIfAbsent(key, k -> new HashSet<>()).add(ep.ip());
                }
            }
        }
        Map<Target, Integer> out = new LinkedHashMap<>();
        ports.forEach((key, port) -> {
            ServicePortName n = names.get(key);
            out.put(new Target(n.namespace(), n.name(), localIps.getOrDefault(key, Set.of()).size()), port);
        });
        return out;
    }

    /** "namespace/name" to local ready endpoint count, for every Service that gets a listener. */
    static Map<String, Integer> desiredCounts(ProxyState state) {
        Map<String, Integer> out = new LinkedHashMap<>();
        desired(state).keySet().forEach(t -> out.put(t.namespace() + "/" + t.name(), t.localEndpoints()));
        return out;
    }

    /** Opens, closes and updates listeners to match {@code state}. Never throws for a failed bind. */
    public synchronized void sync(ProxyState state) {
        if (closed) {
            return;
        }
        Map<Target, Integer> want = desired(state);
        List<String> ips = want.isEmpty() ? List.of() : bindAddresses.apply(state);
        Map<Bind, Target> binds = new LinkedHashMap<>();
        for (Map.Entry<Target, Integer> e : want.entrySet()) {
            for (String ip : ips) {
                Bind b = new Bind(ip, e.getValue());
                Target other = binds.putIfAbsent(b, e.getKey());
                if (other != null) {
                    noteFailure(b, e.getKey(), "port " + b.port() + " is also the health-check node port of "
                            + other.namespace() + "/" + other.name());
                }
            }
        }
        for (Iterator<Map.Entry<Bind, Running>> it = running.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Bind, Running> e = it.next();
            if (!binds.containsKey(e.getKey())) {
                Target t = e.getValue().target;
                e.getValue().server.stop(0);
                it.remove();
                log.info("health-check node port {} of {}/{} closed", e.getKey().address(), t.namespace(), t.name());
            }
        }
        failed.keySet().retainAll(binds.keySet());
        for (Map.Entry<Bind, Target> e : binds.entrySet()) {
            Running r = running.get(e.getKey());
            if (r != null) {
                r.target = e.getValue();
                continue;
            }
            open(e.getKey(), e.getValue());
        }
    }

    private void open(Bind bind, Target target) {
        HttpServer server;
        try {
            // bind.ip() is a canonical literal, so this does no DNS lookup.
            server = HttpServer.create(new InetSocketAddress(InetAddress.getByName(bind.ip()), bind.port()), 0);
        } catch (IOException | RuntimeException e) {
            noteFailure(bind, target, e.getMessage() == null ? e.toString() : e.getMessage());
            return;
        }
        Running r = new Running(server, target);
        server.setExecutor(workers);
        server.createContext("/", exchange -> answer(exchange, r.target));
        server.start();
        running.put(bind, r);
        boolean retried = failed.remove(bind) != null;
        log.info("health-check node port {} of {}/{} listening{} ({} local endpoints)", bind.address(),
                target.namespace(), target.name(), retried ? " after earlier failures" : "", target.localEndpoints());
    }

    private void noteFailure(Bind bind, Target target, String error) {
        String before = failed.put(bind, error);
        if (error.equals(before)) {
            log.debug("health-check node port {} of {}/{} still cannot listen: {}", bind.address(),
                    target.namespace(), target.name(), error);
            return;
        }
        log.warn("health-check node port {} of {}/{} cannot listen, will retry at the next sync: {}",
                bind.address(), target.namespace(), target.name(), error);
        try {
            failures.failedToListen(target.namespace(), target.name(), bind.address(), error);
        } catch (RuntimeException e) {
            log.warn("reporting the failed health-check listener {}: {}", bind.address(), e.toString());
        }
    }

    private void answer(HttpExchange exchange, Target target) throws IOException {
        try {
            HealthCheckReply reply = new HealthCheckReply(target.namespace(), target.name(), target.localEndpoints(),
                    health.healthy());
            byte[] body = reply.body().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", HealthCheckReply.CONTENT_TYPE);
            exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            exchange.getResponseHeaders().set(HealthCheckReply.WEIGHT_HEADER, Integer.toString(target.localEndpoints()));
            boolean head = "HEAD".equals(exchange.getRequestMethod());
            exchange.sendResponseHeaders(reply.status(), head ? -1 : body.length);
            if (!head) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        } finally {
            exchange.close();
        }
    }

    /** The listeners open now, sorted by port then address. */
    public synchronized List<Listener> listeners() {
        List<Listener> out = new ArrayList<>();
        running.forEach((b, r) -> {
            Target t = r.target;
            out.add(new Listener(t.namespace(), t.name(), b.ip(), b.port(), t.localEndpoints()));
        });
        out.sort((x, y) -> x.port() != y.port() ? Integer.compare(x.port(), y.port()) : x.ip().compareTo(y.ip()));
        return out;
    }

    /** Addresses ("ip:port") that failed to bind at the last sync and will be retried. */
    public synchronized Set<String> failing() {
        Set<String> out = new java.util.TreeSet<>();
        failed.keySet().forEach(b -> out.add(b.address()));
        return out;
    }

    @Override
    public synchronized void close() {
        closed = true;
        running.values().forEach(r -> r.server.stop(0));
        running.clear();
        failed.clear();
        workers.shutdownNow();
    }
}
