package io.pointsman.core.linux;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs the real {@code nft}. Arguments are fixed strings or object names the caller built; the
 * script travels on stdin, never through a shell.
 */
public final class ExecNft implements Nft {
    private static final long TIMEOUT_SECONDS = 120;
    /** nft echoes the offending line, which for a bulk element line can be megabytes long. */
    private static final int MAX_ERROR_CHARS = 2000;

    private final List<String> commandPrefix;
    private final String nft;

    /** Uses {@code nft} on the PATH. */
    public ExecNft() {
        this(List.of());
    }

    /**
     * Runs {@code nft} behind a fixed command prefix, e.g. {@code ip netns exec NS}, so tests can
     * aim it at a network namespace of their own.
     */
    public ExecNft(List<String> commandPrefix) {
        this(commandPrefix, "nft");
    }

    public ExecNft(List<String> commandPrefix, String nft) {
        this.commandPrefix = List.copyOf(commandPrefix);
        this.nft = nft;
    }

    /** The command prefix this door runs nft behind (empty for the current namespace). */
    public List<String> commandPrefix() {
        return commandPrefix;
    }

    @Override
    public void apply(String script) throws NftException {
        ToolProcess.Result r = run(List.of(nft, "-f", "-"), script);
        if (r.exit() != 0) {
            throw new NftException("nft -f exited " + r.exit() + ": " + shorten(r.stderr().strip()));
        }
    }

    @Override
    public String listJson(List<String> what) throws NftException {
        List<String> args = new ArrayList<>(List.of(nft, "-j", "list"));
        args.addAll(what);
        ToolProcess.Result r = run(args, null);
        if (r.exit() != 0) {
            if (r.stderr().contains("No such file or directory")) {
                return null;
            }
            throw new NftException("nft -j list " + String.join(" ", what) + " exited " + r.exit() + ": "
                    + shorten(r.stderr().strip()));
        }
        return r.stdout();
    }

    static String shorten(String text) {
        return text.length() <= MAX_ERROR_CHARS ? text
                : text.substring(0, MAX_ERROR_CHARS) + "... (" + (text.length() - MAX_ERROR_CHARS) + " more characters)";
    }

    private ToolProcess.Result run(List<String> tool, String stdin) throws NftException {
        List<String> command = new ArrayList<>(commandPrefix);
        command.addAll(tool);
        try {
            return ToolProcess.run(command, stdin == null ? "" : stdin, TIMEOUT_SECONDS);
        } catch (ToolProcess.ToolException e) {
            throw new NftException(e.getMessage() + (e.notStarted() ? " (expected: the nftables tool nft on the PATH)" : ""), e);
        }
    }
}
