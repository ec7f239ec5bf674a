package io.pointsman.core.sync;

import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.ProxyState;

/**
 * Work that follows a successful sync, whatever the mode: side effects that may fail without
 * failing the sync (health-check NodePort listeners, stale conntrack cleanup), run once the rules
 * are in place. Called on the reconciler thread; an exception is logged by the reconciler and
 * never undoes or retries the sync.
 */
@FunctionalInterface
public interface AfterSync {

    /**
     * @param state the state the kernel now holds
     * @param changes what changed since the previous successful sync ({@link ChangeSet#NONE} when
     *        nothing did and the backend was not called)
     * @param full whether the backend rewrote everything
     */
    void afterSync(ProxyState state, ChangeSet changes, boolean full);
}
