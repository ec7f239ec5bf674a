package io.pointsman.core.linux;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one host tool (iptables-restore, nft, conntrack, nfacct…) with fixed arguments and an
 * optional stdin, collecting both outputs. The one place the exec doors start processes; nothing
 * here goes through a shell.
 */
public final class ToolProcess {
    private ToolProcess() {
    }

    /** What the tool did. */
    public record Result(List<String> command, int exit, String stdout, String stderr) {
        public Result {
            command = List.copyOf(command);
        }

        /** "tool args exited N: stderr", for error messages. */
        public String describe() {
            return String.join(" ", command) + " exited " + exit + ": " + stderr.strip();
        }
    }

    /** The tool could not be started, did not finish in time, or the caller was interrupted. */
    public static final class ToolException extends Exception {
        private static final long serialVersionUID = 1L;
        private final boolean notStarted;

        ToolException(String message, boolean notStarted, Throwable cause) {
            super(message, cause);
            this.notStarted = notStarted;
        }

        /** True when the tool could not be started at all (missing binary, no permission). */
        public boolean notStarted() {
            return notStarted;
        }
    }

    /**
     * Runs {@code command}, writing {@code stdin} (null: /dev/null) and waiting at most
     * {@code timeoutSeconds}. A non-zero exit is a {@link Result}, not an exception.
     */
    public static Result run(List<String> command, String stdin, long timeoutSeconds) throws ToolException {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command));
        if (stdin == null) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new ToolException("cannot run " + command.get(0) + ": " + e.getMessage(), true, e);
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread outPump = pump(p.getInputStream(), out, command.get(0));
            Thread errPump = pump(p.getErrorStream(), err, command.get(0));
            if (stdin != null) {
                try (OutputStream in = p.getOutputStream()) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // The tool may exit early on a bad line and close its stdin; its exit code tells.
                }
            }
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new ToolException(String.join(" ", command) + " did not finish within " + timeoutSeconds + " s",
                        false, null);
            }
            outPump.join();
            errPump.join();
            return new Result(command, p.exitValue(), out.toString(StandardCharsets.UTF_8),
                    err.toString(StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ToolException("interrupted while running " + String.join(" ", command), false, e);
        }
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink, String tool) {
        Thread t = new Thread(() -> {
            try (in) {
                in.transferTo(sink);
            } catch (IOException ignored) {
                // The process went away; what was read is kept.
            }
        }, tool + "-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
