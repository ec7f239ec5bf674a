package io.pointsman.core.linux;

import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes nothing: logs each nft script instead, and answers every listing with "does not
 * exist". Used with {@code --dry-run}, and when the daemon cannot write to the kernel.
 */
public final class DryRunNft implements Nft {
    private static final Logger log = LoggerFactory.getLogger(DryRunNft.class);
    private String last = "";

    @Override
    public synchronized void apply(String script) {
        last = script;
        log.info("dry run: nft script ({} lines):\n{}", script.lines().count(), script);
    }

    @Override
    public String listJson(List<String> what) {
        return null;
    }

    /** The last script "applied", "" when none. */
    public synchronized String lastScript() {
        return last;
    }

    @Override
    public boolean dryRun() {
        return true;
    }
}
