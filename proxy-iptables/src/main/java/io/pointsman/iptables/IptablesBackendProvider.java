package io.pointsman.iptables;

import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.ProxyBackendProvider;

/** The ServiceLoader door of the iptables mode. */
public final class IptablesBackendProvider implements ProxyBackendProvider {

    @Override
    public String mode() {
        return IptablesBackend.MODE;
    }

    @Override
    public ProxyBackend create(BackendContext context) {
        return new IptablesBackend(context);
    }

    @Override
    public boolean cleanup(BackendContext context) {
        return IptablesCleanup.run(context.netfilter());
    }
}
