package io.pointsman.core.model;

import java.util.Set;

/**
 * The service ports whose Service or endpoints changed since the last successful sync (added,
 * updated or removed), and whether this node's own Node changed.
 */
public record ChangeSet(Set<ServicePortName> servicePorts, boolean nodeChanged) {
    public static final ChangeSet NONE = new ChangeSet(Set.of(), false);

    public ChangeSet {
        servicePorts = Set.copyOf(servicePorts);
    }

    public boolean isEmpty() {
        return servicePorts.isEmpty() && !nodeChanged;
    }
}
