package io.pointsman.nftables;

import io.pointsman.core.metrics.ProxyMetrics;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes the golden file of {@link NftRendererTest}; run by hand after a deliberate change, then review the diff. */
final class GoldenWriter {
    private GoldenWriter() {
    }

    public static void main(String[] args) throws Exception {
        NftablesBackend b = new NftablesBackend(Fixtures.config(), new ProxyMetrics("nftables"), new RecordingNft(), () -> { });
        Files.writeString(Path.of(args[0]), b.renderFullSync(Fixtures.upstreamOverall()));
    }
}
