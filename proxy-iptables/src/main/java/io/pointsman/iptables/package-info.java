/**
 * The iptables mode, drop-in compatible with upstream kube-proxy's: same chains, chain-name hashes,
 * rule text, comments and order; then partial syncs that write only the chains that changed,
 * drift repair, and takeover without a flush.
 *
 * <ul>
 *   <li>{@link io.pointsman.iptables.IptablesRenderer}: pure, state to iptables-restore text, one IP
 *   family; renders everything (a full sync), one service port ({@code ServiceRules}: its rules in
 *   the dispatch chains, its own chains) or one top-level chain ({@code TopChain}).</li>
 *   <li>{@code FamilySync}: the rules of one family. Keeps what it last wrote as per-chain digests
 *   ({@code ChainDigest}), so a partial sync writes a chain only when its text changed and a drift
 *   check can compare every chain with the kernel's copy; full syncs read the tables back to delete
 *   stale chains and add missing jump rules ({@code JumpRules}) in the same commit.</li>
 *   <li>{@link io.pointsman.iptables.IptablesBackend}: the {@link io.pointsman.core.spi.ProxyBackend},
 *   one FamilySync per family; {@link io.pointsman.iptables.IptablesBackendProvider} finds it by
 *   mode, and {@code IptablesCleanup} implements {@code --cleanup}.</li>
 * </ul>
 */
package io.pointsman.iptables;
