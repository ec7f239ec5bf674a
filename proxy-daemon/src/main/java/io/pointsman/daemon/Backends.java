package io.pointsman.daemon;

import io.pointsman.core.spi.ProxyBackendProvider;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The backends on the class path, found through {@link ServiceLoader} and keyed by mode name. */
final class Backends {
    private Backends() {
    }

    static Map<String, ProxyBackendProvider> all() {
        Map<String, ProxyBackendProvider> byMode = new TreeMap<>();
        for (ProxyBackendProvider p : ServiceLoader.load(ProxyBackendProvider.class)) {
            byMode.put(p.mode(), p);
        }
        return byMode;
    }

    static ProxyBackendProvider forMode(String mode) {
        Map<String, ProxyBackendProvider> all = all();
        ProxyBackendProvider p = all.get(mode);
        if (p == null) {
            throw new StartupException("proxy mode \"" + mode + "\" is not available (expected one of: "
                    + String.join(", ", all.keySet()) + ")");
        }
        return p;
    }
}
