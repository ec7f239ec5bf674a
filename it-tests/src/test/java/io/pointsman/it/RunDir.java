package io.pointsman.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A fresh directory under /tmp for one lab run (unix sockets, kubeconfig, logs), deleted on close.
 * Kept short because unix socket paths are limited to 107 bytes.
 */
final class RunDir implements AutoCloseable {
    private final Path path;

    private RunDir(Path path) {
        this.path = path;
    }

    static RunDir create() {
        try {
            return new RunDir(Files.createTempDirectory(Path.of("/tmp"), "pointsman-it-"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a run directory under /tmp: " + e.getMessage(), e);
        }
    }

    Path path() {
        return path;
    }

    Path resolve(String name) {
        return path.resolve(name);
    }

    /** The text of a file in this directory, or a note why there is none (for failure reports). */
    String read(String name) {
        Path file = path.resolve(name);
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    @Override
    public void close() {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("[lab] cannot delete run directory " + path + ": " + e);
        }
    }
}
