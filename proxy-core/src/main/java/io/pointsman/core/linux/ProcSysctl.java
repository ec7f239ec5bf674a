package io.pointsman.core.linux;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads and writes the files under /proc/sys of the network namespace this JVM runs in. */
public final class ProcSysctl implements Sysctl {
    private final Path root;

    public ProcSysctl() {
        this(Path.of("/proc/sys"));
    }

    /** A different root, for tests that stage files of their own. */
    public ProcSysctl(Path root) {
        this.root = root;
    }

    @Override
    public String read(String name) throws IOException {
        Path p = root.resolve(Sysctl.path(name));
        try {
            return Files.readString(p, StandardCharsets.US_ASCII).trim();
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(p.toString(), null, "no such sysctl " + name
                    + " (expected: the kernel module that provides it loaded)");
        }
    }

    @Override
    public void write(String name, String value) throws IOException {
        if (value == null || value.isEmpty() || value.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("sysctl " + name + " value: \"" + value
                    + "\" (expected: one non-empty line)");
        }
        Path p = root.resolve(Sysctl.path(name));
        if (!Files.exists(p)) {
            throw new NoSuchFileException(p.toString(), null, "no such sysctl " + name);
        }
        // Write to the existing file, never create one: /proc/sys files exist or the parameter does not.
        Files.writeString(p, value + "\n", StandardCharsets.US_ASCII, java.nio.file.StandardOpenOption.WRITE);
    }
}
