package io.pointsman.core.linux;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs the {@code nfacct} tool. Counter names are Pointsman's own constants, never object fields. */
public final class ExecNfacct implements Nfacct {
    private static final Logger log = LoggerFactory.getLogger(ExecNfacct.class);
    private static final Pattern PACKETS = Pattern.compile("pkts\\s*=\\s*(\\d+)");
    private static final Pattern NAME = Pattern.compile("[a-z_]{1,31}");
    private static final long TIMEOUT_SECONDS = 10;

    private final List<String> commandPrefix;

    public ExecNfacct() {
        this(List.of());
    }

    /** Runs the tool behind a fixed prefix, e.g. {@code ip netns exec NS}, for tests. */
    public ExecNfacct(List<String> commandPrefix) {
        this.commandPrefix = List.copyOf(commandPrefix);
    }

    @Override
    public boolean ensure(String name) {
        check(name);
        if (packets(name) >= 0) {
            return true;
        }
        ToolProcess.Result r = run("add", name);
        if (r == null || r.exit() != 0) {
            log.info("nfacct counter {} not available ({}); rules will not count with it",
                    name, r == null ? "nfacct tool not runnable" : r.describe());
            return false;
        }
        return packets(name) >= 0;
    }

    @Override
    public long packets(String name) {
        check(name);
        ToolProcess.Result r = run("get", name);
        if (r == null || r.exit() != 0) {
            return -1;
        }
        Matcher m = PACKETS.matcher(r.stdout());
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private static void check(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("nfacct name: \"" + name + "\" (expected: 1-31 of a-z and _)");
        }
    }

    private ToolProcess.Result run(String verb, String name) {
        List<String> command = new ArrayList<>(commandPrefix);
        command.addAll(List.of("nfacct", verb, name));
        try {
            return ToolProcess.run(command, null, TIMEOUT_SECONDS);
        } catch (ToolProcess.ToolException e) {
            return null;
        }
    }
}
