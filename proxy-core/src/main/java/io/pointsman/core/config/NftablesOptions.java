package io.pointsman.core.config;

import java.time.Duration;

/** The {@code nftables} section of KubeProxyConfiguration. */
public record NftablesOptions(Duration syncPeriod, Duration minSyncPeriod) {
    public static NftablesOptions defaults() {
        return new NftablesOptions(Duration.ofSeconds(30), Duration.ofSeconds(1));
    }
}
