package io.pointsman.core.config;

import java.time.Duration;
import java.util.List;

/**
 * The {@code ipvs} section of KubeProxyConfiguration.
 *
 * @param scheduler IPVS scheduler name, "" for the default (rr)
 * @param excludeCIDRs canonical CIDRs whose IPVS services cleanup must leave alone
 * @param tcpTimeout idle timeout of TCP sessions, 0 = leave the kernel's value
 */
public record IpvsOptions(Duration syncPeriod, Duration minSyncPeriod, String scheduler, List<String> excludeCIDRs,
                          boolean strictARP, Duration tcpTimeout, Duration tcpFinTimeout, Duration udpTimeout) {
    public IpvsOptions {
        scheduler = scheduler == null ? "" : scheduler;
        excludeCIDRs = List.copyOf(excludeCIDRs);
    }

    /** Upstream's defaults: sync every 30 s, no minimum spacing, rr, nothing excluded, kernel timeouts. */
    public static IpvsOptions defaults() {
        return new IpvsOptions(Duration.ofSeconds(30), Duration.ZERO, "", List.of(), false, Duration.ZERO,
                Duration.ZERO, Duration.ZERO);
    }
}
