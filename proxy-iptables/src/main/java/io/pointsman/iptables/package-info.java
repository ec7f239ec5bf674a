/**
 * The iptables mode, drop-in compatible with upstream kube-proxy's: same chains, chain-name hashes,
 * rule text, comments and order.
 *
 * <ul>
 *   <li>{@link io.pointsman.iptables.IptablesRenderer}: pure, state to iptables-restore text, one IP family.</li>
 *   <li>{@link io.pointsman.iptables.FamilySync}: plans a full or partial sync of one family (which
 *   per-service chains to write or delete, which jump rules are missing) and applies it.</li>
 *   <li>{@link io.pointsman.iptables.IptablesBackend}: the {@link io.pointsman.core.spi.ProxyBackend},
 *   one FamilySync per family; {@link io.pointsman.iptables.IptablesBackendProvider} finds it by mode.</li>
 * </ul>
 */
package io.pointsman.iptables;
