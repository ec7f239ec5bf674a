package io.pointsman.daemon;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.DryRunNetfilter;
import io.pointsman.core.linux.ExecNetfilter;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackendProvider;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code --cleanup}: every mode removes what it (or kube-proxy's same mode) wrote; exit 0 when all went. */
final class Cleanup {
    private static final Logger log = LoggerFactory.getLogger(Cleanup.class);

    private Cleanup() {
    }

    static int run(ProxyConfig config, boolean dryRun) {
        Netfilter netfilter = dryRun ? new DryRunNetfilter() : new ExecNetfilter();
        boolean failed = false;
        for (ProxyBackendProvider p : Backends.all().values()) {
            BackendContext ctx = new BackendContext(config, new ProxyMetrics(p.mode()), netfilter, Set.of(), false);
            boolean f = p.cleanup(ctx);
            log.info("cleanup of mode {}: {}", p.mode(), f ? "FAILED (see above)" : "done");
            failed |= f;
        }
        return failed ? 1 : 0;
    }
}
