package io.pointsman.it;

import static org.junit.jupiter.api.Assertions.fail;

import io.pointsman.core.testing.Kernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** The packaged Pointsman daemon, run as a real process inside the lab's node namespace. */
final class Daemon {
    static final String JAR_PROPERTY = "pointsman.jar";
    static final String METRICS_ADDRESS = "127.0.0.1:10249";
    static final String HEALTHZ_ADDRESS = "127.0.0.1:10256";
    static final String LOG_FILE = "pointsman.log";

    private final List<String> command;
    private final ChildProcesses.Started started;
    private final RunDir runDir;

    private Daemon(List<String> command, ChildProcesses.Started started, RunDir runDir) {
        this.command = command;
        this.started = started;
        this.runDir = runDir;
    }

    /**
     * The shaded jar named by the system property the pom sets. Missing: a failure in CI, a skip
     * elsewhere (it is built by {@code mvn package} of proxy-daemon, which runs before it-tests).
     */
    static Path jar() {
        String property = System.getProperty(JAR_PROPERTY);
        String problem = null;
        if (property == null || property.isBlank()) {
            problem = "system property " + JAR_PROPERTY + " is not set (expected: the path of pointsman.jar)";
        } else if (!Files.isRegularFile(Path.of(property))) {
            problem = "daemon jar " + property + " does not exist (expected: built by `mvn package` of proxy-daemon)";
        }
        if (problem != null) {
            if (Kernel.inCi()) {
                fail(problem);
            }
            Assumptions.assumeTrue(false, "skipped outside CI: " + problem);
        }
        return Path.of(property).toAbsolutePath();
    }

    static Daemon start(Lab lab, Path jar, Path kubeconfig, String nodeName, String... extraFlags) {
        return startWithClusterCidr(lab, jar, kubeconfig, nodeName, Lab.CLUSTER_CIDR, extraFlags);
    }

    /** Like {@link #start}, with another {@code --cluster-cidr} (e.g. both families, comma-separated). */
    static Daemon startWithClusterCidr(Lab lab, Path jar, Path kubeconfig, String nodeName, String clusterCidr,
            String... extraFlags) {
        // The test's own JVM: the one the build chose, whatever "java" on the PATH is.
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = Lab.inside(lab.node(), java, "-jar", jar.toString(),
                "--kubeconfig", kubeconfig.toString(),
                "--hostname-override", nodeName,
                "--cluster-cidr", clusterCidr,
                "--metrics-bind-address", METRICS_ADDRESS,
                "--healthz-bind-address", HEALTHZ_ADDRESS);
        List<String> all = new ArrayList<>(cmd);
        all.addAll(List.of(extraFlags));
        ChildProcesses.Started started = lab.processes().start("pointsman", all, lab.runDir().resolve(LOG_FILE));
        return new Daemon(List.copyOf(all), started, lab.runDir());
    }

    /** Stops the daemon (SIGTERM, then SIGKILL after 5 s); its rules stay, as on a real node. */
    void stop() {
        ChildProcesses.stop(started.process());
    }

    boolean alive() {
        return started.process().isAlive();
    }

    List<String> command() {
        return command;
    }

    /** Command line, jar age, state and the whole log: what a failure report needs. */
    String describe() {
        Path jar = Path.of(command.get(command.indexOf("-jar") + 1));
        String jarTime;
        try {
            jarTime = Files.getLastModifiedTime(jar).toInstant().toString();
        } catch (java.io.IOException e) {
            jarTime = "unknown (" + e.getMessage() + ")";
        }
        Process p = started.process();
        return "daemon command: " + String.join(" ", command) + "\n"
                + "jar built: " + jarTime + " (now " + Instant.now() + ")\n"
                + "daemon state: " + (p.isAlive() ? "running, pid " + p.pid() : "exited with " + p.exitValue()) + "\n"
                + "---- " + LOG_FILE + " ----\n" + runDir.read(LOG_FILE) + "\n---- end of " + LOG_FILE + " ----";
    }
}
