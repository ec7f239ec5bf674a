package io.pointsman.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A short-lived command with a hard time limit; stdout and stderr are kept apart. */
final class Command {
    /** Readers block until a command exits; the common pool is too small for many at once. */
    private static final ExecutorService READERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "command-output");
        t.setDaemon(true);
        return t;
    });

    private Command() {
    }

    /** How a command ended. {@code exit} is -1 when it was killed for running longer than allowed. */
    record Outcome(List<String> command, int exit, String stdout, String stderr, Duration elapsed) {
        boolean ok() {
            return exit == 0;
        }

        @Override
        public String toString() {
            return String.join(" ", command) + " -> exit " + exit + " after " + elapsed.toMillis() + " ms"
                    + (stdout.isBlank() ? "" : ", stdout: " + stdout.strip())
                    + (stderr.isBlank() ? "" : ", stderr: " + stderr.strip());
        }
    }

    /** Starts the command; call {@link Running#finish} to collect its outcome. */
    static Running start(List<String> command, String stdin) {
        ProcessBuilder builder = new ProcessBuilder(command);
        ChildProcesses.sanitize(builder.environment());
        long startNanos = System.nanoTime();
        try {
            Process process = builder.start();
            CompletableFuture<String> out = drain(process.getInputStream());
            CompletableFuture<String> err = drain(process.getErrorStream());
            try (OutputStream in = process.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // The command may exit before reading its input (e.g. connection refused): not an error here.
            }
            return new Running(List.copyOf(command), process, out, err, startNanos);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code stdin} without closing it, waits for the first line of output, then ends the
     * command. For clients that would otherwise linger after their input ends (socat on UDP).
     * Exit 0 when a line came, -1 when none came within the limit.
     */
    static Outcome firstLine(List<String> command, String stdin, Duration limit) {
        ProcessBuilder builder = new ProcessBuilder(command);
        ChildProcesses.sanitize(builder.environment());
        long startNanos = System.nanoTime();
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
        CompletableFuture<String> err = drain(process.getErrorStream());
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8)).readLine();
            } catch (IOException e) {
                return null;
            }
        }, READERS);
        String first = null;
        try {
            OutputStream in = process.getOutputStream();
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
            in.flush();
            first = line.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (IOException | ExecutionException | TimeoutException e) {
            first = null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            ChildProcesses.stop(process);
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - startNanos);
        return new Outcome(List.copyOf(command), first == null ? -1 : 0, first == null ? "" : first, text(err), elapsed);
    }

    static Outcome run(List<String> command, String stdin, Duration limit) {
        return start(command, stdin).finish(limit);
    }

    /** Runs the command and fails with its outcome when it does not exit 0. */
    static String check(List<String> command, Duration limit) {
        Outcome o = run(command, null, limit);
        if (!o.ok()) {
            throw new IllegalStateException("command failed: " + o);
        }
        return o.stdout();
    }

    static final class Running {
        private final List<String> command;
        private final Process process;
        private final CompletableFuture<String> out;
        private final CompletableFuture<String> err;
        private final long startNanos;

        private Running(List<String> command, Process process, CompletableFuture<String> out,
                CompletableFuture<String> err, long startNanos) {
            this.command = command;
            this.process = process;
            this.out = out;
            this.err = err;
            this.startNanos = startNanos;
        }

        Outcome finish(Duration limit) {
            int exit;
            try {
                if (process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                    exit = process.exitValue();
                } else {
                    ChildProcesses.stop(process);
                    exit = -1;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                ChildProcesses.stop(process);
                throw new IllegalStateException("interrupted waiting for " + String.join(" ", command), e);
            }
            Duration elapsed = Duration.ofNanos(System.nanoTime() - startNanos);
            String stderr = text(err) + (exit == -1 ? "\n(killed: still running after " + limit.toMillis() + " ms)" : "");
            return new Outcome(command, exit, text(out), stderr, elapsed);
        }
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(output unreadable: " + e.getMessage() + ")";
            }
        }, READERS);
    }

    private static String text(CompletableFuture<String> f) {
        try {
            return f.get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted reading output)";
        } catch (ExecutionException | TimeoutException e) {
            return "(output not available: " + e + ")";
        }
    }
}
