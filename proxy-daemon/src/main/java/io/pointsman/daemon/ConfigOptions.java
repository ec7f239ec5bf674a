package io.pointsman.daemon;

import io.pointsman.core.config.GoDuration;
import io.pointsman.core.config.IpvsOptions;
import io.pointsman.core.config.UserspaceOptions;
import java.time.Duration;
import io.pointsman.core.config.KubeProxyConfigurationFile;
import io.pointsman.core.config.ProxyConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The flags that shape a {@link ProxyConfig}, with upstream kube-proxy's names. Every field is
 * boxed so that "not given" differs from "given the default": flags override the
 * {@code --config} file only when given, as upstream does.
 */
public final class ConfigOptions {
    @Option(names = "--config", paramLabel = "FILE", description = "A KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) file; flags override it.")
    Path config;

    @Option(names = "--proxy-mode", paramLabel = "MODE", description = "Which proxy mode to use: iptables (default).")
    String proxyMode;

    @Option(names = "--kubeconfig", paramLabel = "FILE", description = "Path to a kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster).")
    String kubeconfig;

    @Option(names = "--master", paramLabel = "URL", description = "The Kubernetes API server address (overrides any value in the kubeconfig).")
    String master;

    @Option(names = "--hostname-override", paramLabel = "NAME", description = "The name of this node (default: the host name).")
    String hostnameOverride;

    @Option(names = "--cluster-cidr", paramLabel = "CIDR[,CIDR]", description = "The pods' CIDR range(s): traffic from outside them to a ClusterIP is masqueraded.")
    String clusterCidr;

    @Option(names = "--detect-local-mode", paramLabel = "MODE", description = "How to tell pod traffic from other traffic: ClusterCIDR (default), NodeCIDR, BridgeInterface, InterfaceNamePrefix.")
    String detectLocalMode;

    @Option(names = "--pod-bridge-interface", paramLabel = "NAME", description = "Bridge interface name, with --detect-local-mode BridgeInterface.")
    String podBridgeInterface;

    @Option(names = "--pod-interface-name-prefix", paramLabel = "PREFIX", description = "Interface name prefix, with --detect-local-mode InterfaceNamePrefix.")
    String podInterfaceNamePrefix;

    @Option(names = "--bind-address", paramLabel = "IP", description = "Overrides the node IP detection (default 0.0.0.0: detect).")
    String bindAddress;

    @Option(names = "--metrics-bind-address", paramLabel = "IP:PORT", description = "Where /proxyMode, /metrics, /healthz and /configz are served (default 127.0.0.1:10249; empty to disable).")
    String metricsBindAddress;

    @Option(names = "--healthz-bind-address", paramLabel = "IP:PORT", description = "Where /healthz and /livez are served (default 0.0.0.0:10256; empty to disable).")
    String healthzBindAddress;

    @Option(names = "--iptables-sync-period", paramLabel = "DURATION", description = "Retry interval after a failed sync and drift check period (default 30s).")
    String iptablesSyncPeriod;

    @Option(names = "--iptables-min-sync-period", paramLabel = "DURATION", description = "Minimum time between syncs (default 1s).")
    String iptablesMinSyncPeriod;

    @Option(names = "--masquerade-all", arity = "0..1", paramLabel = "BOOL", description = "SNAT all traffic sent to Service cluster IPs (default false).")
    Boolean masqueradeAll;

    @Option(names = "--iptables-masquerade-bit", paramLabel = "BIT", description = "The fwmark bit marking packets to SNAT, 0-31 (default 14).")
    Integer masqueradeBit;

    @Option(names = "--iptables-localhost-nodeports", arity = "0..1", paramLabel = "BOOL", description = "Accept NodePort connections to 127.0.0.1 (default true).")
    Boolean localhostNodePorts;

    @Option(names = "--nodeport-addresses", paramLabel = "CIDR[,CIDR]", description = "Node addresses that accept NodePort traffic: CIDRs or 'primary' (default: all).")
    String nodePortAddresses;

    @Option(names = "--config-sync-period", paramLabel = "DURATION", description = "Informer resync period (default 15m).")
    String configSyncPeriod;

    @Option(names = "--service-proxy-name", paramLabel = "NAME", description = "Serve only Services labelled service.kubernetes.io/service-proxy-name=NAME (default: only unlabelled Services).")
    String serviceProxyName;

    @Option(names = "--ipvs-sync-period", paramLabel = "DURATION", description = "IPVS mode: retry and drift check period (default 30s).")
    String ipvsSyncPeriod;

    @Option(names = "--ipvs-min-sync-period", paramLabel = "DURATION", description = "IPVS mode: minimum time between syncs (default 0s).")
    String ipvsMinSyncPeriod;

    @Option(names = "--ipvs-scheduler", paramLabel = "NAME", description = "IPVS mode: scheduler, e.g. rr (default), wrr, lc, wlc, sh, mh.")
    String ipvsScheduler;

    @Option(names = "--ipvs-exclude-cidrs", paramLabel = "CIDR[,CIDR]", description = "IPVS mode: virtual services in these CIDRs are never removed.")
    String ipvsExcludeCidrs;

    @Option(names = "--ipvs-strict-arp", arity = "0..1", paramLabel = "BOOL", description = "IPVS mode: set arp_ignore=1 and arp_announce=2 (default false).")
    Boolean ipvsStrictArp;

    @Option(names = "--ipvs-tcp-timeout", paramLabel = "DURATION", description = "IPVS mode: idle TCP session timeout, 0 leaves the kernel's value.")
    String ipvsTcpTimeout;

    @Option(names = "--ipvs-tcpfin-timeout", paramLabel = "DURATION", description = "IPVS mode: TCP FIN_WAIT timeout, 0 leaves the kernel's value.")
    String ipvsTcpFinTimeout;

    @Option(names = "--ipvs-udp-timeout", paramLabel = "DURATION", description = "IPVS mode: UDP timeout, 0 leaves the kernel's value.")
    String ipvsUdpTimeout;

    @Option(names = "--udp-timeout", paramLabel = "DURATION", description = "Userspace mode: idle timeout of a UDP client session (default 250ms).")
    String udpTimeout;

    @Option(names = "--userspace-connect-timeout", paramLabel = "DURATION", description = "Userspace mode: dial timeout before the next endpoint is tried (default 5s).")
    String userspaceConnectTimeout;

    @Option(names = "--userspace-idle-timeout", paramLabel = "DURATION", description = "Userspace mode: close relayed TCP connections idle this long both ways (default 0: never).")
    String userspaceIdleTimeout;

    @Option(names = {"-v", "--v"}, paramLabel = "LEVEL", description = "Log verbosity: 0 info, 2 sync details, 4 debug, 6 trace.")
    Integer verbosity;

    /** The effective configuration: upstream's defaults, then the --config file, then the flags. */
    public ProxyConfig resolve() {
        ProxyConfig.Builder b = config != null ? KubeProxyConfigurationFile.read(config) : new ProxyConfig.Builder();
        if (proxyMode != null) {
            b.mode = proxyMode;
        }
        if (kubeconfig != null) {
            b.kubeconfig = kubeconfig;
        }
        if (master != null) {
            b.master = master;
        }
        if (hostnameOverride != null) {
            b.hostnameOverride = hostnameOverride;
        }
        if (clusterCidr != null) {
            b.clusterCIDRs = split(clusterCidr);
        }
        if (detectLocalMode != null) {
            b.detectLocalMode = detectLocalMode;
        }
        if (podBridgeInterface != null) {
            b.bridgeInterface = podBridgeInterface;
        }
        if (podInterfaceNamePrefix != null) {
            b.interfaceNamePrefix = podInterfaceNamePrefix;
        }
        if (bindAddress != null) {
            b.bindAddress = bindAddress;
        }
        if (metricsBindAddress != null) {
            b.metricsBindAddress = metricsBindAddress;
        }
        if (healthzBindAddress != null) {
            b.healthzBindAddress = healthzBindAddress;
        }
        if (iptablesSyncPeriod != null) {
            b.syncPeriod = GoDuration.parse("--iptables-sync-period", iptablesSyncPeriod);
        }
        if (iptablesMinSyncPeriod != null) {
            b.minSyncPeriod = GoDuration.parse("--iptables-min-sync-period", iptablesMinSyncPeriod);
        }
        if (masqueradeAll != null) {
            b.masqueradeAll = masqueradeAll;
        }
        if (masqueradeBit != null) {
            b.masqueradeBit = masqueradeBit;
        }
        if (localhostNodePorts != null) {
            b.localhostNodePorts = localhostNodePorts;
        }
        if (nodePortAddresses != null) {
            b.nodePortAddresses = split(nodePortAddresses);
        }
        if (configSyncPeriod != null) {
            b.configSyncPeriod = GoDuration.parse("--config-sync-period", configSyncPeriod);
        }
        if (serviceProxyName != null) {
            b.serviceProxyName = serviceProxyName;
        }
        if (verbosity != null) {
            b.verbosity = verbosity;
        }
        IpvsOptions i = b.ipvs;
        b.ipvs = new IpvsOptions(
                duration("--ipvs-sync-period", ipvsSyncPeriod, i.syncPeriod()),
                duration("--ipvs-min-sync-period", ipvsMinSyncPeriod, i.minSyncPeriod()),
                ipvsScheduler != null ? ipvsScheduler : i.scheduler(),
                ipvsExcludeCidrs != null ? split(ipvsExcludeCidrs) : i.excludeCIDRs(),
                ipvsStrictArp != null ? ipvsStrictArp : i.strictARP(),
                duration("--ipvs-tcp-timeout", ipvsTcpTimeout, i.tcpTimeout()),
                duration("--ipvs-tcpfin-timeout", ipvsTcpFinTimeout, i.tcpFinTimeout()),
                duration("--ipvs-udp-timeout", ipvsUdpTimeout, i.udpTimeout()));
        UserspaceOptions u = b.userspace;
        b.userspace = new UserspaceOptions(duration("--udp-timeout", udpTimeout, u.udpIdleTimeout()),
                duration("--userspace-connect-timeout", userspaceConnectTimeout, u.tcpConnectTimeout()),
                duration("--userspace-idle-timeout", userspaceIdleTimeout, u.tcpIdleTimeout()));
        return b.build();
    }

    private static Duration duration(String flag, String value, Duration dflt) {
        return value == null ? dflt : GoDuration.parse(flag, value);
    }

    private static List<String> split(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
}
