package io.pointsman.it;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The long-running processes one lab started (servers, relays, the daemon). Closing ends them
 * newest first, each one's children (socat forks) before the process itself.
 */
final class ChildProcesses implements AutoCloseable {
    private static final List<String> PROXY_VARIABLES =
            List.of("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY");

    record Started(String name, List<String> command, Process process, Path log) {
    }

    private final Deque<Started> started = new ArrayDeque<>();

    /** Starts a process with stdout and stderr appended to {@code log}; stdin is closed. */
    synchronized Started start(String name, List<String> command, Path log) {
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        sanitize(builder.environment());
        try {
            Process process = builder.start();
            process.getOutputStream().close();
            Started s = new Started(name, List.copyOf(command), process, log);
            started.push(s);
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name + " (" + String.join(" ", command) + "): "
                    + e.getMessage(), e);
        }
    }

    /**
     * Everything the lab runs talks to loopback or lab addresses only: no proxies, and the sbin
     * directories on the PATH so iptables-restore is found inside a namespace.
     */
    static void sanitize(Map<String, String> env) {
        PROXY_VARIABLES.forEach(env::remove);
        env.put("PATH", env.getOrDefault("PATH", "/usr/bin:/bin") + File.pathSeparator + "/usr/sbin:/sbin");
    }

    @Override
    public synchronized void close() {
        while (!started.isEmpty()) {
            stop(started.pop().process());
        }
    }

    static void stop(Process process) {
        // Children first: once the parent is gone they are no longer its descendants.
        List<ProcessHandle> children = process.descendants().toList();
        children.forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        children.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }
}
