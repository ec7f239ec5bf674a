package io.pointsman.core.spi;

/**
 * The one {@link java.util.ServiceLoader} door of a backend module: declared in
 * {@code META-INF/services/io.pointsman.core.spi.ProxyBackendProvider}, keyed by mode name.
 */
public interface ProxyBackendProvider {

    /** The mode name this provider serves ("iptables"). */
    String mode();

    ProxyBackend create(BackendContext context);

    /**
     * Removes everything this mode (and upstream kube-proxy's same mode) may have written to the
     * kernel. Used by {@code --cleanup}.
     *
     * @return whether anything failed to be removed
     */
    default boolean cleanup(BackendContext context) {
        return false;
    }
}
