package io.pointsman.daemon;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.DryRunNetfilter;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.source.ChangeTracker;
import io.pointsman.core.source.ManifestSource;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.ProxyBackendProvider;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pointsman render}: prints what a full sync would apply for the Services, EndpointSlices
 * and Node in a manifest file, as the configured node would apply it. No root, no kernel access.
 */
@Command(name = "render", mixinStandardHelpOptions = true,
        description = "Print the rules a full sync would apply for the objects in a manifest file.")
final class RenderCommand implements Callable<Integer> {
    static final Set<String> FEATURES = Set.of("nfacct", "random-fully");

    @Spec
    CommandSpec spec;

    @Mixin
    ConfigOptions options = new ConfigOptions();

    @Option(names = "--mode", paramLabel = "MODE", description = "The proxy mode to render (default: the configured mode).")
    String mode;

    @Option(names = {"-f", "--filename"}, required = true, paramLabel = "PATH", description = "A manifest file or directory (Service, EndpointSlice, Node).")
    Path file;

    @Option(names = "--assume-features", paramLabel = "LIST", split = ",", description = "Host features to assume present: nfacct, random-fully (default: none).")
    List<String> features = List.of();

    @Override
    public Integer call() {
        Logging.configure(options.verbosity == null ? 0 : options.verbosity);
        for (String f : features) {
            if (!FEATURES.contains(f)) {
                throw new StartupException("--assume-features: \"" + f + "\" (expected: one of "
                        + String.join(", ", new TreeSet<>(FEATURES)) + ")");
            }
        }
        if (mode != null) {
            options.proxyMode = mode;
        }
        ProxyConfig config = options.resolve();
        ProxyBackendProvider provider = Backends.forMode(config.mode());
        String nodeName = NodeName.resolve(config.hostnameOverride(), file);
        ProxyMetrics metrics = new ProxyMetrics(config.mode());
        ChangeTracker tracker = new ChangeTracker(nodeName, metrics, config.serviceProxyName());
        ManifestSource.readInto(file, tracker);
        ProxyState state = tracker.drain().state();
        try (ProxyBackend backend = provider.create(new BackendContext(config, metrics, new DryRunNetfilter(),
                Set.copyOf(features), true))) {
            PrintWriter out = spec.commandLine().getOut();
            out.print(backend.renderFullSync(state));
            out.flush();
        }
        return 0;
    }
}
