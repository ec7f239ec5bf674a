package io.pointsman.ipvs.kernel;

import static java.util.Objects.requireNonNull;

/**
 * One IPVS virtual service as the kernel holds it.
 *
 * @param scheduler scheduler name ("rr")
 * @param flags IP_VS_SVC_F_* bits, without the kernel-internal IP_VS_SVC_F_HASHED
 * @param timeoutSeconds persistence timeout (used with {@link Ipvs#SVC_F_PERSISTENT})
 * @param netmask persistence netmask: 0xffffffff for IPv4, the prefix length 128 for IPv6
 */
public record VirtualServer(ServiceKey key, String scheduler, int flags, int timeoutSeconds, int netmask) {

    public VirtualServer {
        requireNonNull(key, "key");
        requireNonNull(scheduler, "scheduler");
        if (scheduler.isEmpty() || scheduler.length() >= Ipvs.SCHEDNAME_MAXLEN) {
            throw new IllegalArgumentException("scheduler of " + key + ": \"" + scheduler + "\" (expected: 1-"
                    + (Ipvs.SCHEDNAME_MAXLEN - 1) + " characters)");
        }
        flags &= ~Ipvs.SVC_F_HASHED;
        if (timeoutSeconds < 0) {
            throw new IllegalArgumentException("persistence timeout of " + key + ": " + timeoutSeconds
                    + " (expected: >= 0)");
        }
    }

    /** A service with the default netmask of its family, persistent when {@code affinitySeconds} > 0. */
    public static VirtualServer of(ServiceKey key, String scheduler, int affinitySeconds) {
        boolean persistent = affinitySeconds > 0;
        return new VirtualServer(key, scheduler, persistent ? Ipvs.SVC_F_PERSISTENT : 0,
                persistent ? affinitySeconds : 0, defaultNetmask(key));
    }

    public static int defaultNetmask(ServiceKey key) {
        return key.family() == io.pointsman.core.model.IpFamily.IPv4 ? 0xffffffff : 128;
    }

    public boolean persistent() {
        return (flags & Ipvs.SVC_F_PERSISTENT) != 0;
    }

    @Override
    public String toString() {
        int other = flags & ~Ipvs.SVC_F_PERSISTENT;
        return key + " " + scheduler + (persistent() ? " persistent " + timeoutSeconds : "")
                + (other != 0 ? " flags 0x" + Integer.toHexString(other) : "");
    }
}
