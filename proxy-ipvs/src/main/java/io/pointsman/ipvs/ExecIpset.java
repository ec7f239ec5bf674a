package io.pointsman.ipvs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real {@code ipset} tool, optionally behind a fixed command prefix such as
 * {@code ip netns exec NS}. Only the restore script goes to stdin; no Service data reaches the
 * argument list.
 */
public final class ExecIpset implements IpsetDoor {
    private static final long TIMEOUT_SECONDS = 60;
    private final List<String> prefix;

    public ExecIpset() {
        this(List.of());
    }

    public ExecIpset(List<String> commandPrefix) {
        this.prefix = List.copyOf(commandPrefix);
    }

    @Override
    public String save() throws IpsetException {
        return run(List.of("ipset", "save"), null);
    }

    @Override
    public void restore(String script) throws IpsetException {
        run(List.of("ipset", "-exist", "restore"), script);
    }

    private String run(List<String> tool, String stdin) throws IpsetException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(tool);
        Process p;
        try {
            p = new ProcessBuilder(cmd).start();
        } catch (IOException e) {
            throw new IpsetException("cannot run " + String.join(" ", tool) + ": " + e.getMessage()
                    + " (expected: the ipset tool on the PATH)", e);
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread o = pump(p.getInputStream(), out);
            Thread e = pump(p.getErrorStream(), err);
            try (OutputStream in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException ignored) {
                // ipset stops reading at a bad line; its exit status tells.
            }
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IpsetException(String.join(" ", tool) + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
            o.join();
            e.join();
            if (p.exitValue() != 0) {
                throw new IpsetException(String.join(" ", tool) + " exited " + p.exitValue() + ": "
                        + err.toString(StandardCharsets.UTF_8).strip());
            }
            return out.toString(StandardCharsets.UTF_8);
        } catch (InterruptedException ex) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IpsetException("interrupted while running " + String.join(" ", tool), ex);
        }
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
        Thread t = new Thread(() -> {
            try (in) {
                in.transferTo(sink);
            } catch (IOException ignored) {
                // The process went away; what was read is kept.
            }
        }, "ipset-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
