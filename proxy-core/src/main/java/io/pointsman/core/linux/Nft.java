package io.pointsman.core.linux;

import java.util.List;

/**
 * The door to nftables through the {@code nft} command: {@code nft -f -} to write one atomic
 * transaction, {@code nft -j list ...} to read back. One implementation runs the real tool, one
 * logs the scripts (dry run); tests may bring their own.
 */
public interface Nft {

    /**
     * Runs {@code nft -f -} with {@code script} on stdin. The kernel applies the whole script as
     * one transaction, or nothing of it.
     *
     * @throws NftException with nft's complaint when the script was refused
     */
    void apply(String script) throws NftException;

    /**
     * The JSON output of {@code nft -j list WHAT...} (e.g. {@code ["table", "ip", "pointsman"]}),
     * or null when the listed object does not exist.
     */
    String listJson(List<String> what) throws NftException;

    /** True when nothing reaches the kernel (dry run). */
    default boolean dryRun() {
        return false;
    }
}
