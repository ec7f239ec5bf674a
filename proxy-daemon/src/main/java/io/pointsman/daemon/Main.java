package io.pointsman.daemon;

import io.pointsman.core.config.ConfigException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pointsman}: runs the proxy daemon; {@code pointsman render} prints a mode's rules. */
@Command(name = "pointsman", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        subcommands = {RenderCommand.class},
        description = "A kube-proxy replacement: turns Services and EndpointSlices into this node's forwarding rules.")
public final class Main implements Callable<Integer> {

    @Mixin
    ConfigOptions options = new ConfigOptions();

    @Option(names = "--from", paramLabel = "PATH", description = "Read Services, EndpointSlices and Nodes from manifest files (a file or a directory, re-read on change) instead of the Kubernetes API.")
    String from;

    @Option(names = "--dry-run", description = "Compute and log every payload, write nothing to the kernel. Automatic when not root or without the iptables tools.")
    boolean dryRun;

    @Option(names = "--cleanup", description = "Remove every rule and chain Pointsman or kube-proxy wrote, then exit.")
    boolean cleanup;

    @Override
    public Integer call() {
        Logging.configure(options.verbosity == null ? 0 : options.verbosity);
        if (cleanup) {
            return Cleanup.run(options.resolve(), dryRun);
        }
        return new Daemon(options.resolve(), from, dryRun).runUntilStopped();
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line; answers the exit code. A bad configuration exits 2 with one line naming it. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ConfigException || e instanceof StartupException || e instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("pointsman: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cl.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"pointsman " + (v == null ? "dev" : v)};
        }
    }
}
