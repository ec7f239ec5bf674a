package io.pointsman.core.model;

import static java.util.Objects.requireNonNull;

/**
 * The key of everything: one port of one Service. {@link #toString()} is upstream's
 * {@code ServicePortName.String()}, "namespace/name:port", which also feeds the chain-name hashes.
 */
public record ServicePortName(String namespace, String name, String port, Protocol protocol)
        implements Comparable<ServicePortName> {

    public ServicePortName {
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
        requireNonNull(port, "port");
        requireNonNull(protocol, "protocol");
        if (namespace.isEmpty() || name.isEmpty()) {
            throw new IllegalArgumentException("service port name: namespace and name must not be empty (got \""
                    + namespace + "/" + name + "\")");
        }
    }

    /** "namespace/name", the Service this port belongs to. */
    public String serviceKey() {
        return namespace + "/" + name;
    }

    @Override
    public String toString() {
        return namespace + "/" + name + ":" + port;
    }

    @Override
    public int compareTo(ServicePortName o) {
        int c = namespace.compareTo(o.namespace);
        if (c == 0) {
            c = name.compareTo(o.name);
        }
        if (c == 0) {
            c = port.compareTo(o.port);
        }
        if (c == 0) {
            c = protocol.compareTo(o.protocol);
        }
        return c;
    }
}
