package io.pointsman.core.linux;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
        Result r = run(List.of(nft, "-f", "-"), script);
        if (r.exit != 0) {
            throw new NftException("nft -f exited " + r.exit + ": " + shorten(r.stderr.strip()));
        }
    }

    @Override
    public String listJson(List<String> what) throws NftException {
        List<String> args = new ArrayList<>(List.of(nft, "-j", "list"));
        args.addAll(what);
        Result r = run(args, null);
        if (r.exit != 0) {
            if (r.stderr.contains("No such file or directory")) {
                return null;
            }
            throw new NftException("nft -j list " + String.join(" ", what) + " exited " + r.exit + ": "
                    + shorten(r.stderr.strip()));
        }
        return r.stdout;
    }

    static String shorten(String text) {
        return text.length() <= MAX_ERROR_CHARS ? text
                : text.substring(0, MAX_ERROR_CHARS) + "... (" + (text.length() - MAX_ERROR_CHARS) + " more characters)";
    }

    private record Result(int exit, String stdout, String stderr) {
    }

    private Result run(List<String> tool, String stdin) throws NftException {
        List<String> command = new ArrayList<>(commandPrefix);
        command.addAll(tool);
        Process p;
        try {
            p = new ProcessBuilder(command).start();
        } catch (IOException e) {
            throw new NftException("cannot run " + tool.get(0) + ": " + e.getMessage()
                    + " (expected: the nftables tool nft on the PATH)", e);
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread outPump = pump(p.getInputStream(), out);
            Thread errPump = pump(p.getErrorStream(), err);
            try (OutputStream in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // nft may exit early on a bad script and close its stdin; its exit code tells.
            }
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new NftException(tool.get(0) + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
            outPump.join();
            errPump.join();
            return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new NftException("interrupted while running " + tool.get(0), e);
        }
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
        Thread t = new Thread(() -> {
            try (in) {
                in.transferTo(sink);
            } catch (IOException ignored) {
                // The process went away; what was read is kept.
            }
        }, "nft-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
