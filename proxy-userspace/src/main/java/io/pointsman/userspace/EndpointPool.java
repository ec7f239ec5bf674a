package io.pointsman.userspace;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ServicePortName;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The endpoints one kind of traffic of one service port may use: cluster traffic (to a cluster
 * IP) or external traffic (node port, external and load-balancer IPs), which differ when a
 * traffic policy is Local. One balancer per IP family; a client is served by the balancer of
 * its own family, so a dual-stack listener needs no second port.
 */
final class EndpointPool {
    static final long WARN_INTERVAL_NANOS = 10_000_000_000L;
    private final ServicePortName name;
    private final String scope;
    private final Balancer v4 = new Balancer();
    private final Balancer v6 = new Balancer();
    /** When the last warning about this pool was logged; warnings are at most one per {@link #WARN_INTERVAL_NANOS}. */
    private final AtomicLong lastWarnNanos = new AtomicLong(System.nanoTime() - WARN_INTERVAL_NANOS);

    EndpointPool(ServicePortName name, String scope) {
        this.name = name;
        this.scope = scope;
    }

    ServicePortName name() {
        return name;
    }

    /** "cluster" or "external", for logs. */
    String scope() {
        return scope;
    }

    Balancer balancer(IpFamily family) {
        return family == IpFamily.IPv4 ? v4 : v6;
    }

    /** The balancer serving {@code client}: the one of the client's family. */
    Balancer forClient(InetAddress client) {
        return balancer(familyOf(client));
    }

    /**
     * Whether a warning about this pool may be logged now: one per ten seconds, so a broken
     * service under load logs a line, not a flood.
     */
    boolean shouldWarn() {
        long now = System.nanoTime();
        long last = lastWarnNanos.get();
        return now - last >= WARN_INTERVAL_NANOS && lastWarnNanos.compareAndSet(last, now);
    }

    /** An IPv4-mapped IPv6 address (from a dual-stack socket) counts as IPv4. */
    static IpFamily familyOf(InetAddress a) {
        if (a instanceof Inet4Address) {
            return IpFamily.IPv4;
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet6Address && isV4Mapped(b)) {
            return IpFamily.IPv4;
        }
        return IpFamily.IPv6;
    }

    private static boolean isV4Mapped(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
    }

    @Override
    public String toString() {
        return name + " (" + scope + ")";
    }
}
