package io.pointsman.nftables;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.NodePortSelection;
import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything besides the state that shapes the ruleset of one IP family, fixed for a backend's
 * life.
 *
 * @param table the table name ("pointsman")
 * @param masqueradeMark the mark as nft takes it ("0x4000")
 * @param clusterCidr this family's cluster CIDR, null when none is configured
 * @param nodePortCidrs nodePortAddresses CIDRs of this family; empty with {@code nodePortPrimary}
 *        false means every local address
 * @param nodePortPrimary whether nodePortAddresses holds the keyword "primary"
 * @param localhostNodePorts whether NodePorts answer on 127.0.0.0/8 (IPv4 only)
 */
record NftOptions(IpFamily family, String table, String masqueradeMark, boolean masqueradeAll,
                  String detectLocalMode, String clusterCidr, String bridgeInterface, String interfaceNamePrefix,
                  List<String> nodePortCidrs, boolean nodePortPrimary, boolean localhostNodePorts) {

    static final String TABLE = "pointsman";

    NftOptions {
        requireNonNull(family, "family");
        requireNonNull(table, "table");
        requireNonNull(masqueradeMark, "masqueradeMark");
        requireNonNull(detectLocalMode, "detectLocalMode");
        bridgeInterface = bridgeInterface == null ? "" : bridgeInterface;
        interfaceNamePrefix = interfaceNamePrefix == null ? "" : interfaceNamePrefix;
        nodePortCidrs = List.copyOf(nodePortCidrs);
    }

    static NftOptions from(ProxyConfig config, IpFamily family) {
        String clusterCidr = config.clusterCIDR(family);
        NodePortSelection nodePorts = NodePortSelection.of(config, family);
        List<String> cidrs = nodePorts.cidrs();
        boolean primary = nodePorts.primary();
        boolean localhost = nodePorts.localhostNodePorts(config, family);
        return new NftOptions(family, TABLE, "0x" + Integer.toHexString(config.masqueradeMark()),
                config.masqueradeAll(), config.detectLocalMode(), clusterCidr, config.bridgeInterface(),
                config.interfaceNamePrefix(), cidrs, primary, localhost);
    }

    /** "ip" or "ip6": the table family and the address expression's protocol keyword. */
    String ip() {
        return family == IpFamily.IPv4 ? "ip" : "ip6";
    }

    String loopback() {
        return family == IpFamily.IPv4 ? "127.0.0.0/8" : "::1";
    }

    boolean nodePortsMatchAll() {
        return nodePortCidrs.isEmpty() && !nodePortPrimary;
    }

    /** "ip pointsman", as every command names the table. */
    String tableRef() {
        return ip() + " " + table;
    }
}
