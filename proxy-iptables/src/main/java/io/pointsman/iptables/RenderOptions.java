package io.pointsman.iptables;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.NodePortSelection;
import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Everything besides the {@link io.pointsman.core.model.ProxyState} that shapes the rules of one
 * IP family: derived from the configuration and the host's features, fixed for a renderer's life.
 *
 * @param masqueradeMark the mark as iptables takes it ("0x4000")
 * @param detectLocalMode ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix
 * @param clusterCidr the cluster CIDR of this family, null when none is configured
 * @param localhostNodePorts whether NodePorts answer on 127.0.0.0/8 (IPv4 only; false when
 *        nodePortAddresses leave out loopback)
 * @param nfacct whether the nfacct counters exist on the host (feature "nfacct")
 * @param randomFully whether MASQUERADE supports --random-fully (feature "random-fully")
 * @param dropInvalid whether conntrack INVALID packets are dropped in KUBE-FORWARD
 *        (upstream does unless nf_conntrack_tcp_be_liberal is set)
 * @param nodePortCidrs nodePortAddresses CIDRs of this family; empty with {@code nodePortPrimary}
 *        false means every local address
 * @param nodePortPrimary whether nodePortAddresses holds the "primary" keyword (the node's first IP)
 */
public record RenderOptions(IpFamily family, String masqueradeMark, boolean masqueradeAll, String detectLocalMode,
                            String clusterCidr, String bridgeInterface, String interfaceNamePrefix,
                            boolean localhostNodePorts, boolean nfacct, boolean randomFully, boolean dropInvalid,
                            List<String> nodePortCidrs, boolean nodePortPrimary) {

    public static final String FEATURE_NFACCT = "nfacct";
    public static final String FEATURE_RANDOM_FULLY = "random-fully";

    public RenderOptions {
        requireNonNull(family, "family");
        requireNonNull(masqueradeMark, "masqueradeMark");
        requireNonNull(detectLocalMode, "detectLocalMode");
        bridgeInterface = bridgeInterface == null ? "" : bridgeInterface;
        interfaceNamePrefix = interfaceNamePrefix == null ? "" : interfaceNamePrefix;
        nodePortCidrs = List.copyOf(nodePortCidrs);
        if (clusterCidr != null && IpAddresses.familyOf(clusterCidr) != family) {
            throw new IllegalArgumentException("clusterCidr: " + clusterCidr + " (expected: an " + family + " CIDR)");
        }
    }

    /** Options for one family, from the effective configuration and the host features present. */
    public static RenderOptions from(ProxyConfig config, Set<String> hostFeatures, IpFamily family) {
        String clusterCidr = config.clusterCIDR(family);
        NodePortSelection nodePorts = NodePortSelection.of(config, family);
        List<String> cidrs = nodePorts.cidrs();
        boolean primary = nodePorts.primary();
        boolean localhost = nodePorts.localhostNodePorts(config, family);
        return new RenderOptions(family, "0x" + Integer.toHexString(config.masqueradeMark()), config.masqueradeAll(),
                config.detectLocalMode(), clusterCidr, config.bridgeInterface(), config.interfaceNamePrefix(),
                localhost, hostFeatures.contains(FEATURE_NFACCT), hostFeatures.contains(FEATURE_RANDOM_FULLY),
                // Upstream drops INVALID packets only when nf_conntrack_tcp_be_liberal is off.
                !hostFeatures.contains(io.pointsman.core.linux.StartupSysctls.FEATURE_TCP_BE_LIBERAL),
                cidrs, primary);
    }

    /** Whether NodePorts are served on every local address (the addrtype LOCAL rule). */
    public boolean nodePortsMatchAll() {
        return nodePortCidrs.isEmpty() && !nodePortPrimary;
    }
}
