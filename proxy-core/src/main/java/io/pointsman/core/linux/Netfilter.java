package io.pointsman.core.linux;

import io.pointsman.core.model.IpFamily;

/**
 * The door to netfilter through the iptables tools: {@code iptables-restore} to write,
 * {@code iptables-save} to read back. One implementation runs the real tools, one logs the payload
 * (dry run), tests may bring their own.
 */
public interface Netfilter {

    /**
     * Runs {@code iptables-restore --noflush --counters} (or {@code ip6tables-restore}) with
     * {@code payload} on stdin. The kernel applies the payload atomically per table, or not at all.
     *
     * @throws RestoreException naming the rejected line when the tool refused the payload
     */
    void restore(IpFamily family, String payload) throws RestoreException;

    /** The output of {@code iptables-save -t table}, "" when the table does not exist yet. */
    String save(IpFamily family, String table) throws RestoreException;

    /** True when nothing reaches the kernel (dry run). */
    default boolean dryRun() {
        return false;
    }
}
