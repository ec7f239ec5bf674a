package io.pointsman.core.linux;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import java.util.ArrayList;
import java.util.List;
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
        ToolProcess.Result r = run(List.of(tool, "-L", "-p", protocol.lower(), "-f", familyArg(family)));
        if (r.exit() != 0) {
            throw new ConntrackException(r.describe() + " (expected: the conntrack table of " + family + " listed)");
        }
        List<ConntrackFlow> flows = new ArrayList<>();
        for (String line : r.stdout().split("\n")) {
            ConntrackFlow f = ConntrackFlow.parse(family, line);
            if (f != null && f.protocol() == protocol) {
                flows.add(f);
            }
        }
        return flows;
    }

    @Override
    public int delete(Filter f) throws ConntrackException {
        ToolProcess.Result r = run(List.of(tool, "-D", "-p", f.protocol().lower(), "-f", familyArg(f.family()),
                "--orig-dst", f.origDst(), "--orig-port-dst", Integer.toString(f.origDstPort()),
                "--reply-src", f.replySrc(), "--reply-port-src", Integer.toString(f.replySrcPort())));
        Matcher m = DELETED.matcher(r.stderr());
        if (m.find()) {
            // Exit 1 with "0 flow entries have been deleted" only means nothing matched any more.
            return Integer.parseInt(m.group(1));
        }
        throw new ConntrackException(r.describe() + " (expected: flows " + f + " deleted)");
    }

    private static String familyArg(IpFamily family) {
        return family == IpFamily.IPv4 ? "ipv4" : "ipv6";
    }

    private ToolProcess.Result run(List<String> args) throws ConntrackException {
        List<String> command = new ArrayList<>(commandPrefix);
        command.addAll(args);
        try {
            return ToolProcess.run(command, null, TIMEOUT_SECONDS);
        } catch (ToolProcess.ToolException e) {
            throw new ConntrackException(e.getMessage()
                    + (e.notStarted() ? " (expected: conntrack-tools installed, the conntrack tool on the PATH)" : ""), e);
        }
    }
}
