package io.pointsman.nftables;

import io.pointsman.core.linux.DryRunNft;
import io.pointsman.core.linux.ExecNft;
import io.pointsman.core.linux.Nft;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.ProxyBackendProvider;

/**
 * The ServiceLoader door of the nftables mode. It writes through {@code nft} whenever the daemon
 * writes to the kernel at all (the same decision as for the iptables tools: not for
 * {@code render}, {@code --dry-run}, or without root).
 */
public final class NftablesBackendProvider implements ProxyBackendProvider {

    @Override
    public String mode() {
        return NftablesBackend.MODE;
    }

    @Override
    public ProxyBackend create(BackendContext context) {
        Nft nft = nftFor(context);
        return NftablesBackend.create(context.config(), context.metrics(), nft, null, () -> RouteLocalnet.enable(nft));
    }

    @Override
    public boolean cleanup(BackendContext context) {
        return NftablesCleanup.run(nftFor(context), context.metrics());
    }

    static Nft nftFor(BackendContext context) {
        return context.renderOnly() || context.netfilter().dryRun() ? new DryRunNft() : new ExecNft();
    }
}
