package io.pointsman.core.config;

import io.pointsman.core.model.IpAddresses;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Checks a {@link ProxyConfig.Builder} and canonicalises CIDRs; every message names the field. */
final class ConfigValidation {
    static final Set<String> DETECT_LOCAL_MODES = Set.of("ClusterCIDR", "NodeCIDR", "BridgeInterface",
            "InterfaceNamePrefix");

    private ConfigValidation() {
    }

    static void validate(ProxyConfig.Builder b) {
        if (b.mode == null || b.mode.isEmpty()) {
            b.mode = ProxyConfig.DEFAULT_MODE;
        }
        if (!b.mode.matches("[a-z]+")) {
            throw new ConfigException("mode: \"" + b.mode + "\" (expected: iptables, ipvs, nftables or userspace)");
        }
        if (!DETECT_LOCAL_MODES.contains(b.detectLocalMode)) {
            throw new ConfigException("detectLocalMode: \"" + b.detectLocalMode + "\" (expected: one of "
                    + String.join(", ", new java.util.TreeSet<>(DETECT_LOCAL_MODES)) + ")");
        }
        if ("BridgeInterface".equals(b.detectLocalMode) && b.bridgeInterface.isEmpty()) {
            throw new ConfigException("detectLocal.bridgeInterface: empty (expected: an interface name with detectLocalMode BridgeInterface)");
        }
        if ("InterfaceNamePrefix".equals(b.detectLocalMode) && b.interfaceNamePrefix.isEmpty()) {
            throw new ConfigException("detectLocal.interfaceNamePrefix: empty (expected: a prefix with detectLocalMode InterfaceNamePrefix)");
        }
        if (b.masqueradeBit < 0 || b.masqueradeBit > 31) {
            throw new ConfigException("iptables.masqueradeBit: " + b.masqueradeBit + " (expected: 0-31)");
        }
        positive("iptables.syncPeriod", b.syncPeriod);
        nonNegative("iptables.minSyncPeriod", b.minSyncPeriod);
        positive("configSyncPeriod", b.configSyncPeriod);
        if (b.minSyncPeriod.compareTo(b.syncPeriod) > 0) {
            throw new ConfigException("iptables.minSyncPeriod: " + b.minSyncPeriod + " (expected: <= syncPeriod "
                    + b.syncPeriod + ")");
        }
        List<String> cidrs = new ArrayList<>();
        for (String c : b.clusterCIDRs) {
            if (c.isBlank()) {
                continue;
            }
            cidrs.add(cidr("clusterCIDR", c));
        }
        if (cidrs.size() > 2) {
            throw new ConfigException("clusterCIDR: " + cidrs + " (expected: at most one CIDR per IP family)");
        }
        b.clusterCIDRs = List.copyOf(cidrs);
        List<String> npa = new ArrayList<>();
        for (String a : b.nodePortAddresses) {
            if (a.isBlank()) {
                continue;
            }
            npa.add("primary".equals(a) ? a : cidr("nodePortAddresses", a));
        }
        b.nodePortAddresses = List.copyOf(npa);
        hostPort("metricsBindAddress", b.metricsBindAddress);
        hostPort("healthzBindAddress", b.healthzBindAddress);
        if (!b.bindAddress.isEmpty() && !IpAddresses.isValid(b.bindAddress)) {
            throw new ConfigException("bindAddress: \"" + b.bindAddress + "\" (expected: an IP address)");
        }
        positive("ipvs.syncPeriod", b.ipvs.syncPeriod());
        nonNegative("ipvs.minSyncPeriod", b.ipvs.minSyncPeriod());
        nonNegative("ipvs.tcpTimeout", b.ipvs.tcpTimeout());
        nonNegative("ipvs.tcpFinTimeout", b.ipvs.tcpFinTimeout());
        nonNegative("ipvs.udpTimeout", b.ipvs.udpTimeout());
        if (!b.ipvs.scheduler().isEmpty() && !b.ipvs.scheduler().matches("[a-z]{1,15}")) {
            throw new ConfigException("ipvs.scheduler: \"" + b.ipvs.scheduler()
                    + "\" (expected: an IPVS scheduler name such as rr, wrr, lc, wlc, sh, mh)");
        }
        List<String> excluded = new ArrayList<>();
        for (String c : b.ipvs.excludeCIDRs()) {
            if (!c.isBlank()) {
                excluded.add(cidr("ipvs.excludeCIDRs", c));
            }
        }
        b.ipvs = new IpvsOptions(b.ipvs.syncPeriod(), b.ipvs.minSyncPeriod(), b.ipvs.scheduler(), excluded,
                b.ipvs.strictARP(), b.ipvs.tcpTimeout(), b.ipvs.tcpFinTimeout(), b.ipvs.udpTimeout());
        positive("nftables.syncPeriod", b.nftables.syncPeriod());
        nonNegative("nftables.minSyncPeriod", b.nftables.minSyncPeriod());
        positive("udpIdleTimeout", b.userspace.udpIdleTimeout());
        positive("userspace.tcpConnectTimeout", b.userspace.tcpConnectTimeout());
        nonNegative("userspace.tcpIdleTimeout", b.userspace.tcpIdleTimeout());
        if (b.verbosity < 0) {
            throw new ConfigException("v: " + b.verbosity + " (expected: >= 0)");
        }
    }

    private static String cidr(String field, String value) {
        try {
            return IpAddresses.canonicalCidr(value);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(field + ": \"" + value + "\" (expected: a CIDR such as 10.0.0.0/8)");
        }
    }

    private static void positive(String field, Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new ConfigException(field + ": " + d + " (expected: > 0)");
        }
    }

    private static void nonNegative(String field, Duration d) {
        if (d == null || d.isNegative()) {
            throw new ConfigException(field + ": " + d + " (expected: >= 0)");
        }
    }

    /** Checks "host:port" (IPv6 as "[::]:port"); an empty value disables the server. */
    static void hostPort(String field, String value) {
        if (value == null || value.isEmpty()) {
            return;
        }
        HostPort.parse(field, value);
    }
}
