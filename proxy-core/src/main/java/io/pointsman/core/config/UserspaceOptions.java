package io.pointsman.core.config;

import java.time.Duration;

/**
 * Settings of the userspace (Netty relay) mode. {@code udpIdleTimeout} is the old userspace
 * kube-proxy's {@code udpIdleTimeout}; the others are Pointsman's.
 *
 * @param udpIdleTimeout how long a UDP client session lives without traffic
 * @param tcpConnectTimeout how long a dial to an endpoint may take before the next one is tried
 * @param tcpIdleTimeout how long a relayed TCP connection may be idle both ways, 0 = forever
 */
public record UserspaceOptions(Duration udpIdleTimeout, Duration tcpConnectTimeout, Duration tcpIdleTimeout) {
    public static UserspaceOptions defaults() {
        return new UserspaceOptions(Duration.ofMillis(250), Duration.ofSeconds(5), Duration.ZERO);
    }
}
