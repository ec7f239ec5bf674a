package io.pointsman.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The packaged daemon as a plain process on the host's loopback (no namespace): for tests that
 * need no kernel, only the real process (signals, exit codes, the requests it makes to an API).
 * Always a dry run with metrics and health on free 127.0.0.1 ports.
 */
final class HostDaemon implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final int metricsPort;
    private final List<String> command;

    private HostDaemon(Process process, Path log, int metricsPort, List<String> command) {
        this.process = process;
        this.log = log;
        this.metricsPort = metricsPort;
        this.command = command;
    }

    static HostDaemon start(Path log, String... flags) {
        return start(log, freePort(), freePort(), flags);
    }

    /** With given ports for the metrics and health servers (on 127.0.0.1). */
    static HostDaemon start(Path log, int metrics, int health, String... flags) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar",
                Daemon.jar().toString(), "--dry-run",
                "--metrics-bind-address", "127.0.0.1:" + metrics,
                "--healthz-bind-address", "127.0.0.1:" + health));
        cmd.addAll(List.of(flags));
        ProcessBuilder b = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        ChildProcesses.sanitize(b.environment());
        try {
            Process p = b.start();
            p.getOutputStream().close();
            return new HostDaemon(p, log, metrics, List.copyOf(cmd));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", cmd) + ": " + e.getMessage(), e);
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port on 127.0.0.1: " + e.getMessage(), e);
        }
    }

    /** The repository root (the build sets POINTSMAN_REPO_ROOT; else the nearest parent with examples/). */
    static Path repoRoot() {
        String env = System.getenv("POINTSMAN_REPO_ROOT");
        Path p = env != null ? Path.of(env) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("examples"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (expected a folder with examples/)");
        }
        return p;
    }

    Process process() {
        return process;
    }

    /** GET on the metrics server; the status and body, e.g. "200 iptables". */
    String metrics(String path) throws IOException, InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** Command line, state and log, for failure messages. */
    String describe() {
        return "command: " + String.join(" ", command) + "\nstate: "
                + (process.isAlive() ? "running, pid " + process.pid() : "exited with " + process.exitValue())
                + "\n---- log ----\n" + log() + "---- end of log ----";
    }

    @Override
    public void close() {
        ChildProcesses.stop(process);
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
