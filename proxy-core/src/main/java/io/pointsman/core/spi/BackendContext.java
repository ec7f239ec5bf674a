package io.pointsman.core.spi;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.metrics.ProxyMetrics;
import java.util.Set;

/**
 * What a backend gets from the daemon.
 *
 * @param netfilter the door to iptables-restore/iptables-save (real, dry-run, or a test double)
 * @param hostFeatures host features known to be present ("nfacct", "random-fully")
 * @param renderOnly true for {@code pointsman render}: the backend must not touch the kernel
 */
public record BackendContext(ProxyConfig config, ProxyMetrics metrics, Netfilter netfilter,
                             Set<String> hostFeatures, boolean renderOnly) {
    public BackendContext {
        requireNonNull(config, "config");
        requireNonNull(metrics, "metrics");
        requireNonNull(netfilter, "netfilter");
        hostFeatures = Set.copyOf(hostFeatures);
    }
}
