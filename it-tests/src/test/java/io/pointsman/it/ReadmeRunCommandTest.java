package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pointsman.core.testing.Kernel;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's run command on the example cluster: the daemon starts, serves /proxyMode, and
 * without root falls back to a dry run by itself (it must never need root to try Pointsman).
 */
class ReadmeRunCommandTest {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private String get(int port, String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    @Test
    void runsOnTheExamplesAsADryRun(@TempDir Path dir) throws Exception {
        Path root = ConformanceCheckTest.repoRoot();
        Daemon.jar();
        int metrics = freePort();
        int health = freePort();
        Path log = dir.resolve("run.log");
        List<String> cmd = List.of(root.resolve("pointsman").toString(), "--from", "examples/", "--dry-run",
                "--metrics-bind-address", "127.0.0.1:" + metrics, "--healthz-bind-address", "127.0.0.1:" + health);
        runAndProbe(cmd, root, log, metrics, health);
        assertThat(Files.readString(log)).contains("full sync:").contains("dry run: IPv4 restore payload");
    }

    @Test
    void withoutRootItFallsBackToADryRunByItself(@TempDir Path dir) throws Exception {
        Kernel.require("setpriv");
        Path jar = Daemon.jar();
        // A copy the unprivileged user can read, whatever the clone's permissions are.
        Path world = Files.createDirectories(dir.resolve("world"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(world, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path jarCopy = Files.copy(jar, world.resolve("pointsman.jar"));
        Path examples = Files.createDirectories(world.resolve("examples"));
        try (Stream<Path> files = Files.list(ConformanceCheckTest.repoRoot().resolve("examples"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, examples.resolve(f.getFileName()));
            }
        }
        for (Path p : List.of(jarCopy, examples)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
        }
        try (Stream<Path> files = Files.list(examples)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
            }
        }
        int metrics = freePort();
        int health = freePort();
        Path log = dir.resolve("nobody.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", java,
                "-Duser.home=" + world, "-jar", jarCopy.toString(), "--from", examples.toString(),
                "--metrics-bind-address", "127.0.0.1:" + metrics, "--healthz-bind-address", "127.0.0.1:" + health);
        runAndProbe(cmd, world, log, metrics, health);
        assertThat(Files.readString(log)).contains("running as a dry run: not running as root")
                .contains("full sync:");
    }

    private void runAndProbe(List<String> cmd, Path cwd, Path log, int metrics, int health) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(cmd)).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        ChildProcesses.sanitize(pb.environment());
        Process p = pb.start();
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                    .untilAsserted(() -> assertThat(get(metrics, "/proxyMode")).isEqualTo("200 iptables"));
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(Files.readString(log)).contains("full sync:"));
            assertThat(get(health, "/healthz")).startsWith("200 ");
            assertThat(get(metrics, "/metrics")).contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds");
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("daemon log:\n" + Files.readString(log), e);
        } finally {
            p.destroy();
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
