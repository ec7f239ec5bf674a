package io.pointsman.it;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The node's way to the API server, which a test can cut and restore: an API outage as the node
 * sees it. Like {@link Lab#connectApi}, the node's 127.0.0.1:{@value Lab#API_PORT} is relayed
 * through a unix socket in the run directory to a server on the host's 127.0.0.1; {@link #cut()}
 * ends both relay processes (and the connections they carry), so the node's API port is closed
 * and every attempt is refused at once, as when an API server is down.
 *
 * <p>Use instead of {@link Lab#connectApi}, not with it: both listen on the node's API port.
 */
final class ApiRelay {
    private final Lab lab;
    private final Path socket;
    private ChildProcesses.Started hostSide;
    private ChildProcesses.Started nodeSide;
    private int apiPort;

    private ApiRelay(Lab lab) {
        this.lab = lab;
        this.socket = lab.runDir().resolve("api-relay.sock");
    }

    /** Starts the relay to a server on the host's 127.0.0.1:{@code apiPort} and waits until the node reaches it. */
    static ApiRelay connect(Lab lab, int apiPort) {
        ApiRelay relay = new ApiRelay(lab);
        relay.restore(apiPort);
        return relay;
    }

    /** Ends the relay: the node's API port is closed until {@link #restore}. */
    synchronized void cut() {
        if (nodeSide != null) {
            ChildProcesses.stop(nodeSide.process());
            nodeSide = null;
        }
        if (hostSide != null) {
            ChildProcesses.stop(hostSide.process());
            hostSide = null;
        }
    }

    /** (Re)starts the relay, to a server on the host's 127.0.0.1:{@code port}, and waits until it answers. */
    synchronized void restore(int port) {
        if (hostSide != null || nodeSide != null) {
            throw new IllegalStateException("API relay already up (expected: cut() before restore())");
        }
        this.apiPort = port;
        Path log = lab.runDir().resolve("relay.log");
        // unlink-early: a socket file left by the previous relay must not block the new one.
        hostSide = lab.processes().start("api relay (host side)", List.of("socat",
                "UNIX-LISTEN:" + socket + ",fork,unlink-early", "TCP:127.0.0.1:" + port), log);
        await("relay socket " + socket).atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(() -> Files.exists(socket));
        nodeSide = lab.processes().start("api relay (node side)", Lab.inside(lab.node(), "socat",
                "TCP-LISTEN:" + Lab.API_PORT + ",bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:" + socket), log);
        await("API relay answering inside the node").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                .until(() -> Probe.httpGet(lab.node(), "127.0.0.1:" + Lab.API_PORT, "/api/v1/namespaces").status() == 200);
    }

    synchronized boolean up() {
        return nodeSide != null;
    }

    synchronized int apiPort() {
        return apiPort;
    }

    /** Writes a kubeconfig for the node's end of the relay, with {@code token} as the user's bearer token. */
    Path kubeconfig(String fileName, String token) {
        return Lab.writeKubeconfig(lab.runDir().resolve(fileName), token);
    }
}
