package io.pointsman.daemon;

import io.fabric8.kubernetes.api.model.Node;
import io.pointsman.core.source.ManifestSource;
import java.io.IOException;
import java.util.List;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** This node's name: --hostname-override, else the host name, lower-cased as upstream does. */
final class NodeName {
    private NodeName() {
    }

    /**
     * --hostname-override, else the only Node in the manifests at {@code manifests} (so an example
     * cluster runs as its own node), else the host name.
     */
    static String resolve(String override, Path manifests) {
        if ((override == null || override.isBlank()) && manifests != null) {
            try {
                List<Node> nodes = ManifestSource.read(manifests).nodes();
                if (nodes.size() == 1) {
                    return nodes.get(0).getMetadata().getName();
                }
            } catch (IOException | RuntimeException e) {
                throw new StartupException(manifests + ": cannot read (" + e.getMessage() + ")", e);
            }
        }
        return resolve(override);
    }

    static String resolve(String override) {
        if (override != null && !override.isBlank()) {
            return override.trim().toLowerCase(Locale.ROOT);
        }
        String name = null;
        try {
            name = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        } catch (IOException e) {
            // Not Linux: fall back to the JDK.
        }
        if (name == null || name.isEmpty()) {
            try {
                name = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                throw new StartupException("cannot determine the host name (" + e.getMessage()
                        + "); pass --hostname-override");
            }
        }
        return name.toLowerCase(Locale.ROOT);
    }
}
