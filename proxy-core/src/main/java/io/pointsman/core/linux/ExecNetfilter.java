package io.pointsman.core.linux;

import io.pointsman.core.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the real iptables tools. Arguments are fixed strings: nothing from a Service ever reaches
 * a shell or an argument list, only the restore payload on stdin.
 */
public final class ExecNetfilter implements Netfilter {
    private static final Pattern FAILED_LINE = Pattern.compile("line:? (\\d+)");
    private static final long TIMEOUT_SECONDS = 120;

    private final String iptablesRestore;
    private final String ip6tablesRestore;
    private final String iptablesSave;
    private final String ip6tablesSave;
    private final List<String> commandPrefix;

    /** Uses the tools on the PATH, whichever flavour (nft or legacy) the node's alternatives select. */
    public ExecNetfilter() {
        this("iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save");
    }

    public ExecNetfilter(String iptablesRestore, String ip6tablesRestore, String iptablesSave, String ip6tablesSave) {
        this(List.of(), iptablesRestore, ip6tablesRestore, iptablesSave, ip6tablesSave);
    }

    /**
     * Runs the tools on the PATH behind a fixed command prefix, e.g. {@code ip netns exec NS}, so
     * tests can aim them at a network namespace of their own.
     */
    public ExecNetfilter(List<String> commandPrefix) {
        this(commandPrefix, "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save");
    }

    private ExecNetfilter(List<String> commandPrefix, String iptablesRestore, String ip6tablesRestore,
                          String iptablesSave, String ip6tablesSave) {
        this.commandPrefix = List.copyOf(commandPrefix);
        this.iptablesRestore = iptablesRestore;
        this.ip6tablesRestore = ip6tablesRestore;
        this.iptablesSave = iptablesSave;
        this.ip6tablesSave = ip6tablesSave;
    }

    @Override
    public void restore(IpFamily family, String payload) throws RestoreException {
        String tool = family == IpFamily.IPv4 ? iptablesRestore : ip6tablesRestore;
        // -w: wait for the xtables lock (5 s) rather than fail while another tool holds it.
        ToolProcess.Result r = run(List.of(tool, "-w", "5", "-W", "100000", "--noflush", "--counters"), payload);
        if (r.exit() != 0) {
            int line = 0;
            Matcher m = FAILED_LINE.matcher(r.stderr());
            if (m.find()) {
                line = Integer.parseInt(m.group(1));
            }
            String text = lineOf(payload, line);
            throw new RestoreException(tool + " exited " + r.exit() + ": " + oneLine(r.stderr())
                    + (line > 0 ? " (line " + line + ": " + text + ")" : ""), line, text);
        }
    }

    @Override
    public String save(IpFamily family, String table) throws RestoreException {
        String tool = family == IpFamily.IPv4 ? iptablesSave : ip6tablesSave;
        ToolProcess.Result r = run(List.of(tool, "-t", table), null);
        if (r.exit() != 0) {
            throw new RestoreException(tool + " -t " + table + " exited " + r.exit() + ": " + oneLine(r.stderr()), 0, "");
        }
        return r.stdout();
    }

    /**
     * The tool's complaint as one line, for one log line per failure: its lines joined with "; ",
     * without blank lines and without the "Try `iptables-restore -h'" hint.
     */
    static String oneLine(String stderr) {
        StringBuilder b = new StringBuilder();
        for (String line : stderr.split("\\R")) {
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("Try `")) {
                continue;
            }
            if (b.length() > 0) {
                b.append("; ");
            }
            b.append(t);
        }
        return b.length() == 0 ? "(no message)" : b.toString();
    }

    /** Line {@code n} (1-based) of {@code text}, "" when out of range. */
    static String lineOf(String text, int n) {
        if (n <= 0) {
            return "";
        }
        int start = 0;
        for (int i = 1; i < n; i++) {
            int nl = text.indexOf('\n', start);
            if (nl < 0) {
                return "";
            }
            start = nl + 1;
        }
        int end = text.indexOf('\n', start);
        return end < 0 ? text.substring(start) : text.substring(start, end);
    }

    private ToolProcess.Result run(List<String> tool, String stdin) throws RestoreException {
        List<String> command = new ArrayList<>(commandPrefix);
        command.addAll(tool);
        try {
            return ToolProcess.run(command, stdin == null ? "" : stdin, TIMEOUT_SECONDS);
        } catch (ToolProcess.ToolException e) {
            throw new RestoreException(e.getMessage() + (e.notStarted() ? " (expected: the iptables tools on the PATH)" : ""), e);
        }
    }
}
