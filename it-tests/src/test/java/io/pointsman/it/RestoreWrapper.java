package io.pointsman.it;

import io.pointsman.core.testing.Kernel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * An {@code iptables-restore} that stands first on the daemon's PATH (directory {@link #binDir()}):
 * it keeps a copy of every payload it is given and, while a countdown is above zero, breaks the
 * payload's first rule (appends a match module that does not exist) before handing it to the real
 * tool, which then rejects it with its own message and line number, changing nothing. Otherwise
 * it runs the real tool with the payload unchanged.
 *
 * <p>The script holds fixed paths only; the payload is data on stdin, copied and edited by
 * {@code sed}, never evaluated.
 */
final class RestoreWrapper {
    /** The match module appended to the broken rule: no kernel or iptables build has it. */
    static final String BROKEN_MATCH = "pointsman_lab_broken";

    private final Path dir;
    private final Path bin;

    private RestoreWrapper(Path dir, Path bin) {
        this.dir = dir;
        this.bin = bin;
    }

    static RestoreWrapper install(RunDir runDir) {
        Path real = Kernel.which("iptables-restore");
        if (real == null) {
            throw new IllegalStateException("iptables-restore not found (expected: on the PATH or in /usr/sbin)");
        }
        Path dir = runDir.resolve("restore");
        Path bin = runDir.resolve("bin");
        String script = """
                #!/bin/sh
                # Written by the Pointsman lab (RestoreWrapper): iptables-restore that keeps each payload
                # and breaks the first rule while the countdown in "fail" is above zero.
                set -u
                d='%1$s'
                n=$(( $(cat "$d/calls") + 1 ))
                echo "$n" > "$d/calls"
                cat > "$d/payload-$n"
                left=$(cat "$d/fail")
                if [ "$left" -gt 0 ]; then
                  echo $(( left - 1 )) > "$d/fail"
                  sed '0,/^-A /s/^-A .*$/& -m %3$s/' "$d/payload-$n" | '%2$s' "$@"
                  exit $?
                fi
                exec '%2$s' "$@" < "$d/payload-$n"
                """.formatted(dir, real, BROKEN_MATCH);
        try {
            Files.createDirectories(dir);
            Files.createDirectories(bin);
            Files.writeString(dir.resolve("calls"), "0\n");
            Files.writeString(dir.resolve("fail"), "0\n");
            Path exe = bin.resolve("iptables-restore");
            Files.writeString(exe, script);
            Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot install the iptables-restore wrapper in " + bin + ": " + e.getMessage(), e);
        }
        return new RestoreWrapper(dir, bin);
    }

    Path binDir() {
        return bin;
    }

    /** A PATH with the wrapper first and the system directories after it. */
    String path() {
        return bin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }

    /** Makes the next {@code n} restores fail (0 lets them all through again). */
    void failNext(int n) {
        write("fail", n + "\n");
    }

    /** Restores still to fail. */
    int failuresLeft() {
        return Integer.parseInt(read("fail").strip());
    }

    /** Restores run so far (failed or not). */
    int calls() {
        return Integer.parseInt(read("calls").strip());
    }

    /** The payload of restore number {@code n} (1-based), as the daemon wrote it. */
    String payload(int n) {
        return read("payload-" + n);
    }

    /** The payloads of restores {@code from}..{@link #calls()}. */
    List<String> payloadsFrom(int from) {
        List<String> out = new ArrayList<>();
        for (int i = from; i <= calls(); i++) {
            out.add(payload(i));
        }
        return out;
    }

    private String read(String name) {
        try {
            return Files.readString(dir.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(name) + ": " + e.getMessage(), e);
        }
    }

    private void write(String name, String text) {
        try {
            Path tmp = dir.resolve(name + ".tmp");
            Files.writeString(tmp, text);
            Files.move(tmp, dir.resolve(name), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(name) + ": " + e.getMessage(), e);
        }
    }
}
