package io.pointsman.core.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pointsman.core.config.HostPort;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP server on the JDK's com.sun.net.httpserver: exact paths, GET and HEAD only,
 * two worker threads (probes and scrapes are few and cheap).
 */
final class HttpEndpoint implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpEndpoint.class);
    private static final int WORKERS = 2;

    private final String what;
    private final HostPort bind;
    private final Map<String, Supplier<Reply>> routes;
    private HttpServer server;
    private ExecutorService workers;
    private boolean closed;

    /** @param what names the server in logs and errors, e.g. "metrics server" */
    HttpEndpoint(String what, HostPort bind, Map<String, Supplier<Reply>> routes) {
        this.what = what;
        this.bind = bind;
        this.routes = Map.copyOf(routes);
    }

    /** Binds and starts serving. Throws {@link UncheckedIOException} naming the address when binding fails. */
    synchronized void start() {
        if (server != null || closed) {
            throw new IllegalStateException(what + " on " + address() + ": already " + (closed ? "closed" : "started"));
        }
        HttpServer s;
        try {
            // bind.host() is an IP literal (HostPort validated it), so this does no DNS lookup.
            s = HttpServer.create(new InetSocketAddress(InetAddress.getByName(bind.host()), bind.port()), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(what + ": cannot listen on " + address() + ": " + e.getMessage(), e);
        }
        AtomicInteger n = new AtomicInteger();
        String threadPrefix = what.replace(' ', '-') + "-";
        ThreadPoolExecutor pool = new ThreadPoolExecutor(WORKERS, WORKERS, 0, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, threadPrefix + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        s.setExecutor(pool);
        s.createContext("/", this::handle);
        s.start();
        server = s;
        workers = pool;
        log.info("{} listening on {} (paths {})", what, address(port()), routes.keySet().stream().sorted().toList());
    }

    /** The bound port (useful when the configured port was 0). */
    synchronized int port() {
        if (server == null) {
            throw new IllegalStateException(what + " on " + address() + ": not started");
        }
        return server.getAddress().getPort();
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (server != null) {
            server.stop(0);
            workers.shutdownNow();
            server = null;
            log.info("{} on {} stopped", what, address());
        }
    }

    private String address() {
        return address(bind.port());
    }

    private String address(int port) {
        return (bind.host().indexOf(':') >= 0 ? "[" + bind.host() + "]" : bind.host()) + ":" + port;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try {
            String method = exchange.getRequestMethod();
            Supplier<Reply> route = routes.get(exchange.getRequestURI().getRawPath());
            Reply reply;
            if (route == null) {
                reply = Reply.text(404, "404 page not found\n");
            } else if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                reply = Reply.text(405, "405 method not allowed\n");
            } else {
                reply = answer(route, exchange);
            }
            send(exchange, reply, method.equals("HEAD"));
        } finally {
            exchange.close();
        }
    }

    private Reply answer(Supplier<Reply> route, HttpExchange exchange) {
        try {
            return route.get();
        } catch (RuntimeException e) {
            log.warn("{}: {} failed: {}", what, exchange.getRequestURI().getRawPath(), e.toString());
            return Reply.text(500, "500 internal server error: " + e.getMessage() + "\n");
        }
    }

    private static void send(HttpExchange exchange, Reply reply, boolean head) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", reply.contentType());
        exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        byte[] body = reply.body();
        // -1: no body (HEAD, or empty); a length of 0 would mean "chunked" to this server.
        exchange.sendResponseHeaders(reply.status(), head || body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
