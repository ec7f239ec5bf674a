package io.pointsman.core.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace a test creates and deletes. Tests touch only namespaces made this way.
 * Names start with "pm-" plus a random suffix, so parallel runs never collide.
 */
public final class Netns implements AutoCloseable {
    private final String name;

    private Netns(String name) {
        this.name = name;
    }

    /** Creates a fresh namespace named "pm-PREFIX-xxxxxx" with its loopback up. */
    public static Netns create(String prefix) {
        String n = "pm-" + prefix + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
        run(List.of("ip", "netns", "add", n));
        Netns ns = new Netns(n);
        ns.exec("ip", "link", "set", "lo", "up");
        return ns;
    }

    public String name() {
        return name;
    }

    /** The command prefix that runs a program inside this namespace. */
    public List<String> prefix() {
        return List.of("ip", "netns", "exec", name);
    }

    /** Runs a command inside the namespace; fails with its output when it exits non-zero. */
    public String exec(String... command) {
        List<String> cmd = new ArrayList<>(prefix());
        cmd.addAll(List.of(command));
        return run(cmd);
    }

    /** Runs a command inside the namespace with stdin; answers exit code and output, never throws on exit. */
    public Result execStatus(String stdin, String... command) {
        List<String> cmd = new ArrayList<>(prefix());
        cmd.addAll(List.of(command));
        return runStatus(cmd, stdin);
    }

    public record Result(int exit, String output) {
    }

    /** Runs a host command (used for `ip netns`, `ip link` of veth pairs); throws on failure. */
    public static String run(List<String> cmd) {
        Result r = runStatus(cmd, null);
        if (r.exit != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " exited " + r.exit + ": " + r.output);
        }
        return r.output;
    }

    public static Result runStatus(List<String> cmd, String stdin) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (stdin != null) {
                p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish in 60 s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + cmd + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + cmd, e);
        }
    }

    @Override
    public void close() {
        runStatus(List.of("ip", "netns", "pids", name), null).output().lines()
                .filter(s -> !s.isBlank())
                .forEach(pid -> runStatus(List.of("kill", "-9", pid.trim()), null));
        runStatus(List.of("ip", "netns", "del", name), null);
    }
}
