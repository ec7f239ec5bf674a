package io.pointsman.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged daemon as a process inside the lab's node namespace, with every flag and
 * environment variable chosen by the test (unlike {@link Daemon}, which fixes the bind addresses):
 * for tests that run it with the defaults, with another PATH, or kill it and start it again.
 * Each start gets its own log file in the run directory.
 */
final class DaemonProcess {
    private final List<String> command;
    private final Process process;
    private final Path log;

    private DaemonProcess(List<String> command, Process process, Path log) {
        this.command = command;
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code java -jar pointsman.jar FLAGS} in the node namespace.
     *
     * @param env variables set for the daemon (e.g. PATH), through {@code env(1)} after entering the namespace
     * @param logName file in the run directory that receives stdout and stderr
     */
    static DaemonProcess start(Lab lab, Path jar, Map<String, String> env, String logName, String... flags) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> inner = new ArrayList<>();
        if (!env.isEmpty()) {
            inner.add("env");
            new LinkedHashMap<>(env).forEach((k, v) -> inner.add(k + "=" + v));
        }
        inner.addAll(List.of(java, "-XX:+UseSerialGC", "-jar", jar.toString()));
        inner.addAll(List.of(flags));
        List<String> cmd = Lab.inside(lab.node(), inner.toArray(new String[0]));
        Path logFile = lab.runDir().resolve(logName);
        ChildProcesses.Started s = lab.processes().start("pointsman (" + logName + ")", cmd, logFile);
        return new DaemonProcess(List.copyOf(cmd), s.process(), logFile);
    }

    /**
     * A copy of the packaged jar in the run directory: a daemon started twice runs the same build
     * even when the jar is rebuilt meanwhile (a JVM reading a jar that is being rewritten may fail
     * in odd ways).
     */
    static Path jarCopy(RunDir runDir) {
        Path copy = runDir.resolve("pointsman.jar");
        try {
            Files.copy(Daemon.jar(), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot copy " + Daemon.jar() + " to " + copy + ": " + e.getMessage(), e);
        }
        return copy;
    }

    /** The usual flags of a lab daemon without the bind addresses: kubeconfig, node name, cluster CIDR. */
    static List<String> baseFlags(Path kubeconfig, String nodeName) {
        return List.of("--kubeconfig", kubeconfig.toString(), "--hostname-override", nodeName,
                "--cluster-cidr", Lab.CLUSTER_CIDR);
    }

    boolean alive() {
        return process.isAlive();
    }

    long pid() {
        return process.pid();
    }

    /**
     * SIGKILL, as the OOM killer or a node crash would end it: no shutdown hook runs. Answers once
     * the process is gone. ({@code ip netns exec} and {@code env} exec the JVM, so this is the JVM.)
     */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("daemon pid " + process.pid() + " still alive 10 s after SIGKILL");
        }
    }

    /** SIGTERM, then SIGKILL after 5 s. */
    void stop() {
        ChildProcesses.stop(process);
    }

    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** Lines of the log containing {@code text}. */
    List<String> logLines(String text) {
        return log().lines().filter(l -> l.contains(text)).toList();
    }

    List<String> command() {
        return command;
    }

    /** Command line, state (a thread dump when it runs) and the whole log: what a failure report needs. */
    String describe() {
        return "daemon command: " + String.join(" ", command) + "\n"
                + "daemon state: " + (process.isAlive() ? "running, pid " + process.pid() + "\n" + processState()
                : "exited with " + process.exitValue()) + " (now " + Instant.now() + ")\n"
                + "---- " + log.getFileName() + " ----\n" + log() + "\n---- end of " + log.getFileName() + " ----";
    }

    /** What the kernel says about the process, and its threads if it is a JVM by now. */
    private String processState() {
        StringBuilder b = new StringBuilder();
        Path proc = Path.of("/proc", Long.toString(process.pid()));
        for (String f : List.of("comm", "wchan")) {
            try {
                b.append(f).append(": ").append(Files.readString(proc.resolve(f)).strip()).append('\n');
            } catch (IOException e) {
                b.append(f).append(": (").append(e.getMessage()).append(")\n");
            }
        }
        Path jstack = Path.of(System.getProperty("java.home"), "bin", "jstack");
        if (Files.isExecutable(jstack)) {
            Command.Outcome o = Command.run(List.of(jstack.toString(), Long.toString(process.pid())), null,
                    java.time.Duration.ofSeconds(20));
            b.append("---- jstack ----\n").append(o.stdout()).append(o.stderr()).append("---- end of jstack ----\n");
        }
        return b.toString();
    }
}
