package io.pointsman.core.linux;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the {@code conntrack} tool (conntrack-tools). Arguments are canonical addresses and numbers
 * only, validated by {@link Conntrack.Filter}; nothing reaches a shell.
 */
public final class ExecConntrack implements Conntrack {
    private static final Pattern DELETED = Pattern.compile("(\\d+) flow entries have been deleted");
    private static final long TIMEOUT_SECONDS = 60;

    private final List<String> commandPrefix;
    private final String tool;

    /** Uses {@code conntrack} on the PATH. */
    public ExecConntrack() {
        this(List.of());
    }

    /** Runs the tool behind a fixed prefix, e.g. {@code ip netns exec NS}, so tests aim it at a namespace of their own. */
    public ExecConntrack(List<String> commandPrefix) {
        this.commandPrefix = List.copyOf(commandPrefix);
        this.tool = "conntrack";
    }

    @Override
    public List<ConntrackFlow> list(IpFamily family, Protocol protocol) throws ConntrackException {
        Result r = run(List.of(tool, "-L", "-p", protocol.lower(), "-f", familyArg(family)));
        if (r.exit != 0) {
            throw new ConntrackException(describe(r) + " (expected: the conntrack table of " + family + " listed)");
        }
        List<ConntrackFlow> flows = new ArrayList<>();
        for (String line : r.stdout.split("\n")) {
            ConntrackFlow f = ConntrackFlow.parse(family, line);
            if (f != null && f.protocol() == protocol) {
                flows.add(f);
            }
        }
        return flows;
    }

    @Override
    public int delete(Filter f) throws ConntrackException {
        Result r = run(List.of(tool, "-D", "-p", f.protocol().lower(), "-f", familyArg(f.family()),
                "--orig-dst", f.origDst(), "--orig-port-dst", Integer.toString(f.origDstPort()),
                "--reply-src", f.replySrc(), "--reply-port-src", Integer.toString(f.replySrcPort())));
        Matcher m = DELETED.matcher(r.stderr);
        if (m.find()) {
            // Exit 1 with "0 flow entries have been deleted" only means nothing matched any more.
            return Integer.parseInt(m.group(1));
        }
        throw new ConntrackException(describe(r) + " (expected: flows " + f + " deleted)");
    }

    private static String familyArg(IpFamily family) {
        return family == IpFamily.IPv4 ? "ipv4" : "ipv6";
    }

    private record Result(List<String> command, int exit, String stdout, String stderr) {
    }

    private String describe(Result r) {
        return String.join(" ", r.command) + " exited " + r.exit + ": " + r.stderr.strip();
    }

    private Result run(List<String> args) throws ConntrackException {
        List<String> command = new ArrayList<>(commandPrefix);
        command.addAll(args);
        Process p;
        try {
            p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new ConntrackException("cannot run " + tool + ": " + e.getMessage()
                    + " (expected: conntrack-tools installed, the conntrack tool on the PATH)", e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread outPump = pump(p.getInputStream(), out);
        Thread errPump = pump(p.getErrorStream(), err);
        try {
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new ConntrackException(String.join(" ", command) + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
            outPump.join();
            errPump.join();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ConntrackException("interrupted while running " + String.join(" ", command), e);
        }
        return new Result(command, p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
        Thread t = new Thread(() -> {
            try (in) {
                in.transferTo(sink);
            } catch (IOException ignored) {
                // The process went away; what was read is kept.
            }
        }, "conntrack-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
