package io.pointsman.core.linux;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel parameters the proxy sets or reads once at start, in the node's network namespace:
 * {@code route_localnet} for localhost NodePorts (iptables mode, IPv4), and
 * {@code nf_conntrack_tcp_be_liberal}, which decides whether conntrack-INVALID packets are dropped.
 * Failures are logged, never fatal: the proxy still serves everything but what the parameter enables.
 */
public final class StartupSysctls {
    private static final Logger log = LoggerFactory.getLogger(StartupSysctls.class);

    public static final String ROUTE_LOCALNET = "net.ipv4.conf.all.route_localnet";
    public static final String TCP_BE_LIBERAL = "net.netfilter.nf_conntrack_tcp_be_liberal";
    /**
     * The host feature (see {@link io.pointsman.core.spi.BackendContext#hostFeatures()}) present
     * when nf_conntrack_tcp_be_liberal is set: then upstream renders no INVALID drop rule.
     */
    public static final String FEATURE_TCP_BE_LIBERAL = "conntrack-tcp-be-liberal";

    private StartupSysctls() {
    }

    /**
     * @param routeLocalnet whether route_localnet is 1 now (set by us or found so)
     * @param tcpBeLiberal whether nf_conntrack_tcp_be_liberal is non-zero
     */
    public record Outcome(boolean routeLocalnet, boolean tcpBeLiberal) {
        /** The host features these values add. */
        public List<String> features() {
            return tcpBeLiberal ? List.of(FEATURE_TCP_BE_LIBERAL) : List.of();
        }
    }

    /** Applies what {@code config} needs and reads the rest. */
    public static Outcome apply(ProxyConfig config, Sysctl sysctl) {
        boolean localnet = false;
        if (localhostNodePorts(config)) {
            localnet = ensure(sysctl, ROUTE_LOCALNET, "1", "localhost NodePorts (--iptables-localhost-nodeports)");
        }
        boolean liberal = false;
        try {
            liberal = !"0".equals(sysctl.read(TCP_BE_LIBERAL));
        } catch (IOException | RuntimeException e) {
            // Upstream reads an unreadable value as 0, i.e. drops INVALID packets.
            log.info("cannot read {} ({}); treating it as 0: conntrack-INVALID packets are dropped", TCP_BE_LIBERAL,
                    e.getMessage());
        }
        return new Outcome(localnet, liberal);
    }

    /**
     * Whether the configuration serves NodePorts on 127.0.0.1: iptables mode, localhostNodePorts on,
     * and nodePortAddresses matching every IPv4 address or a CIDR holding 127.0.0.1.
     */
    public static boolean localhostNodePorts(ProxyConfig config) {
        if (!"iptables".equals(config.mode()) || !config.localhostNodePorts()) {
            return false;
        }
        List<String> v4 = new ArrayList<>();
        boolean primary = false;
        for (String a : config.nodePortAddresses()) {
            if ("primary".equals(a)) {
                primary = true;
            } else if (IpAddresses.familyOf(a) == IpFamily.IPv4) {
                v4.add(a);
            }
        }
        boolean matchAll = (v4.isEmpty() && !primary) || v4.stream().anyMatch(c -> c.endsWith("/0"));
        return matchAll || v4.stream().anyMatch(c -> IpAddresses.cidrContains(c, "127.0.0.1"));
    }

    private static boolean ensure(Sysctl sysctl, String name, String value, String why) {
        try {
            String current = sysctl.read(name);
            if (value.equals(current)) {
                return true;
            }
            sysctl.write(name, value);
            log.info("set sysctl {} to {} (was {}) for {}", name, value, current, why);
            return true;
        } catch (IOException | RuntimeException e) {
            log.error("cannot set sysctl {} to {}: {}; {} will not work", name, value, e.getMessage(), why);
            return false;
        }
    }
}
