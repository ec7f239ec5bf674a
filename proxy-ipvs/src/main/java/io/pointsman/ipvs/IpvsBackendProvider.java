package io.pointsman.ipvs;

import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.ProxyBackendProvider;

/** The ServiceLoader door of the IPVS mode. */
public final class IpvsBackendProvider implements ProxyBackendProvider {

    @Override
    public String mode() {
        return IpvsBackend.MODE;
    }

    @Override
    public ProxyBackend create(BackendContext context) {
        return new IpvsBackend(context);
    }

    @Override
    public boolean cleanup(BackendContext context) {
        if (context.netfilter().dryRun()) {
            return false;
        }
        return IpvsCleanup.run(context.netfilter(), new ExecIpset(),
                IpvsSettings.from(context.config(), context.hostFeatures()));
    }
}
