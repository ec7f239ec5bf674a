package io.pointsman.userspace;

import io.pointsman.core.config.UserspaceOptions;
import java.time.Duration;

/**
 * How the relay behaves, from {@link UserspaceOptions}.
 *
 * @param connectTimeout how long a dial to one endpoint may take before the next is tried
 * @param tcpIdleTimeout close a TCP connection idle this long both ways; zero means never
 * @param udpIdleTimeout close a UDP client session idle this long
 * @param bindRetryInterval how often a listener whose address is in use is retried
 */
record RelayOptions(Duration connectTimeout, Duration tcpIdleTimeout, Duration udpIdleTimeout,
                    Duration bindRetryInterval) {
    RelayOptions {
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("userspace connect timeout: " + connectTimeout + " (expected: > 0)");
        }
        if (tcpIdleTimeout.isNegative()) {
            throw new IllegalArgumentException("userspace idle timeout: " + tcpIdleTimeout + " (expected: >= 0)");
        }
        if (udpIdleTimeout.isNegative() || udpIdleTimeout.isZero()) {
            throw new IllegalArgumentException("UDP idle timeout: " + udpIdleTimeout + " (expected: > 0)");
        }
    }

    static RelayOptions of(UserspaceOptions u) {
        return new RelayOptions(u.tcpConnectTimeout(), u.tcpIdleTimeout(), u.udpIdleTimeout(), Duration.ofSeconds(5));
    }

    int connectTimeoutMillis() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, connectTimeout.toMillis()));
    }
}
