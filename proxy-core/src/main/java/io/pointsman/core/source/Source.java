package io.pointsman.core.source;

/**
 * Where Services, EndpointSlices and this node's Node come from: the Kubernetes API or manifest
 * files. A source only records what it sees in a {@link ChangeTracker}; it never syncs anything.
 */
public interface Source extends AutoCloseable {

    /**
     * Starts feeding {@code tracker}; marks it synced once each kind has been listed. Returns
     * without waiting for the initial lists unless the source says otherwise.
     */
    void start(ChangeTracker tracker);

    /** Stops feeding; what was fed stays in the tracker. */
    @Override
    void close();
}
