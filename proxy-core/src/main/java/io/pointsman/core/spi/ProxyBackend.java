package io.pointsman.core.spi;

import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.ProxyState;

/**
 * Turns the desired {@link ProxyState} into the node's forwarding state, for one proxy mode.
 * Called from the single reconciler thread only, so implementations need no locking.
 */
public interface ProxyBackend extends AutoCloseable {

    /** The mode name, as {@code /proxyMode} answers it ("iptables"). */
    String mode();

    /**
     * Applies {@code state}. When {@code full} is false, only the service ports in
     * {@code changes} differ from the last state this backend applied successfully; a backend may
     * rewrite more than that, never less.
     *
     * @throws SyncException when applying failed; the previous kernel state must keep serving
     */
    SyncResult sync(ProxyState state, ChangeSet changes, boolean full) throws SyncException;

    /**
     * The text a full sync of {@code state} would apply (for {@code pointsman render}), computed
     * without touching the kernel.
     */
    default String renderFullSync(ProxyState state) {
        throw new UnsupportedOperationException("mode " + mode() + " cannot render its rules as text");
    }

    /**
     * Reads back what this backend wrote and reports what the kernel no longer holds as written
     * (e.g. a chain flushed or deleted by hand, a jump rule removed). Whatever it reports is
     * rewritten by the next {@link #sync}, even a partial one with no changes; the caller should
     * run one soon when the report is not empty. Called at every syncPeriod, from the reconciler
     * thread, like {@code sync}.
     *
     * @throws SyncException when the kernel state cannot be read
     */
    default DriftReport checkDrift() throws SyncException {
        return DriftReport.NONE;
    }

    /** Releases listeners and threads. Leaves the kernel state in place, as kube-proxy does. */
    @Override
    default void close() {
    }
}
