package io.pointsman.core.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.List;

/**
 * The effective configuration, after the KubeProxyConfiguration file and the flags were merged.
 * Names follow upstream's KubeProxyConfiguration fields.
 *
 * @param mode proxy mode ("iptables")
 * @param hostnameOverride the node name to use, "" for the host name
 * @param clusterCIDRs pod CIDRs, canonical (detect-local by ClusterCIDR)
 * @param detectLocalMode ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix
 * @param nodePortAddresses CIDRs or the keyword "primary"; empty means every local address
 * @param serviceProxyName serve only Services labelled service.kubernetes.io/service-proxy-name=this; "" = unlabelled only
 */
public record ProxyConfig(String mode, String kubeconfig, String master, String hostnameOverride,
                          List<String> clusterCIDRs, String detectLocalMode, String bridgeInterface,
                          String interfaceNamePrefix, String bindAddress, String metricsBindAddress,
                          String healthzBindAddress, Duration syncPeriod, Duration minSyncPeriod,
                          int masqueradeBit, boolean masqueradeAll, boolean localhostNodePorts,
                          List<String> nodePortAddresses, Duration configSyncPeriod, String serviceProxyName,
                          int verbosity, IpvsOptions ipvs, NftablesOptions nftables, UserspaceOptions userspace) {

    public static final String DEFAULT_MODE = "iptables";

    public ProxyConfig {
        requireNonNull(mode, "mode");
        kubeconfig = kubeconfig == null ? "" : kubeconfig;
        master = master == null ? "" : master;
        hostnameOverride = hostnameOverride == null ? "" : hostnameOverride;
        clusterCIDRs = List.copyOf(clusterCIDRs);
        bridgeInterface = bridgeInterface == null ? "" : bridgeInterface;
        interfaceNamePrefix = interfaceNamePrefix == null ? "" : interfaceNamePrefix;
        nodePortAddresses = List.copyOf(nodePortAddresses);
        serviceProxyName = serviceProxyName == null ? "" : serviceProxyName;
        requireNonNull(detectLocalMode, "detectLocalMode");
        requireNonNull(syncPeriod, "syncPeriod");
        requireNonNull(minSyncPeriod, "minSyncPeriod");
        requireNonNull(configSyncPeriod, "configSyncPeriod");
        requireNonNull(ipvs, "ipvs");
        requireNonNull(nftables, "nftables");
        requireNonNull(userspace, "userspace");
    }

    /** The sync period of the configured mode's section (iptables.syncPeriod for iptables and userspace). */
    public Duration effectiveSyncPeriod() {
        return switch (mode) {
            case "ipvs" -> ipvs.syncPeriod();
            case "nftables" -> nftables.syncPeriod();
            default -> syncPeriod;
        };
    }

    /** The minimum sync spacing of the configured mode's section. */
    public Duration effectiveMinSyncPeriod() {
        return switch (mode) {
            case "ipvs" -> ipvs.minSyncPeriod();
            case "nftables" -> nftables.minSyncPeriod();
            default -> minSyncPeriod;
        };
    }

    /** Upstream's defaults. */
    public static ProxyConfig defaults() {
        return new Builder().build();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.mode = mode;
        b.kubeconfig = kubeconfig;
        b.master = master;
        b.hostnameOverride = hostnameOverride;
        b.clusterCIDRs = clusterCIDRs;
        b.detectLocalMode = detectLocalMode;
        b.bridgeInterface = bridgeInterface;
        b.interfaceNamePrefix = interfaceNamePrefix;
        b.bindAddress = bindAddress;
        b.metricsBindAddress = metricsBindAddress;
        b.healthzBindAddress = healthzBindAddress;
        b.syncPeriod = syncPeriod;
        b.minSyncPeriod = minSyncPeriod;
        b.masqueradeBit = masqueradeBit;
        b.masqueradeAll = masqueradeAll;
        b.localhostNodePorts = localhostNodePorts;
        b.nodePortAddresses = nodePortAddresses;
        b.configSyncPeriod = configSyncPeriod;
        b.serviceProxyName = serviceProxyName;
        b.verbosity = verbosity;
        b.ipvs = ipvs;
        b.nftables = nftables;
        b.userspace = userspace;
        return b;
    }

    /** The cluster CIDR of one family, or null when none is configured for it. */
    public String clusterCIDR(io.pointsman.core.model.IpFamily family) {
        for (String c : clusterCIDRs) {
            if (io.pointsman.core.model.IpAddresses.familyOf(c) == family) {
                return c;
            }
        }
        return null;
    }

    /** The masquerade mark value, 1 << masqueradeBit. */
    public int masqueradeMark() {
        return 1 << masqueradeBit;
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        public String mode = DEFAULT_MODE;
        public String kubeconfig = "";
        public String master = "";
        public String hostnameOverride = "";
        public List<String> clusterCIDRs = List.of();
        public String detectLocalMode = "ClusterCIDR";
        public String bridgeInterface = "";
        public String interfaceNamePrefix = "";
        public String bindAddress = "0.0.0.0";
        public String metricsBindAddress = "127.0.0.1:10249";
        public String healthzBindAddress = "0.0.0.0:10256";
        public Duration syncPeriod = Duration.ofSeconds(30);
        public Duration minSyncPeriod = Duration.ofSeconds(1);
        public int masqueradeBit = 14;
        public boolean masqueradeAll = false;
        public boolean localhostNodePorts = true;
        public List<String> nodePortAddresses = List.of();
        public Duration configSyncPeriod = Duration.ofMinutes(15);
        public String serviceProxyName = "";
        public int verbosity = 0;
        public IpvsOptions ipvs = IpvsOptions.defaults();
        public NftablesOptions nftables = NftablesOptions.defaults();
        public UserspaceOptions userspace = UserspaceOptions.defaults();

        public ProxyConfig build() {
            ConfigValidation.validate(this);
            return new ProxyConfig(mode, kubeconfig, master, hostnameOverride, clusterCIDRs, detectLocalMode,
                    bridgeInterface, interfaceNamePrefix, bindAddress, metricsBindAddress, healthzBindAddress,
                    syncPeriod, minSyncPeriod, masqueradeBit, masqueradeAll, localhostNodePorts, nodePortAddresses,
                    configSyncPeriod, serviceProxyName, verbosity, ipvs, nftables, userspace);
        }
    }
}
