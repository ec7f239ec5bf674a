package io.pointsman.userspace;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.ProxyBackendProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@code userspace} mode: a Netty relay reached through portal rules. */
public final class UserspaceBackendProvider implements ProxyBackendProvider {
    private static final Logger log = LoggerFactory.getLogger(UserspaceBackendProvider.class);

    @Override
    public String mode() {
        return UserspaceBackend.MODE;
    }

    @Override
    public ProxyBackend create(BackendContext context) {
        return new UserspaceBackend(context);
    }

    /**
     * Removes the portal chains and node-port chains (Pointsman's and kube-proxy's userspace mode)
     * and the jumps to them, in both families and in the nat and filter tables. A family whose
     * tools are missing (no ip6tables) counts as clean.
     */
    @Override
    public boolean cleanup(BackendContext context) {
        return cleanup(context.netfilter());
    }

    static boolean cleanup(Netfilter netfilter) {
        boolean failed = false;
        for (IpFamily family : IpFamily.values()) {
            for (String table : new String[] {"nat", "filter"}) {
                String save;
                try {
                    save = netfilter.save(family, table);
                } catch (RestoreException e) {
                    log.debug("cleanup: cannot read the {} {} table, nothing to remove there: {}", family, table,
                            e.getMessage());
                    continue;
                }
                String payload = PortalRules.cleanup(table, save);
                if (payload.isEmpty()) {
                    continue;
                }
                try {
                    netfilter.restore(family, payload);
                    log.info("cleanup: removed the userspace portal chains from the {} {} table", family, table);
                } catch (RestoreException e) {
                    failed = true;
                    log.error("cleanup: removing the userspace chains from the {} {} table failed: {}", family, table,
                            e.getMessage());
                }
            }
        }
        return failed;
    }
}
