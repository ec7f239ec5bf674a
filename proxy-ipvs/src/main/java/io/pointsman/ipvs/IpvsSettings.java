package io.pointsman.ipvs;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.ipvs.kernel.Ipvs;
import io.pointsman.ipvs.kernel.IpvsTimeouts;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What the IPVS mode takes from the configuration, validated once.
 *
 * @param scheduler the IPVS scheduler ("rr" when the flag is empty)
 * @param excludeCIDRs canonical CIDRs whose virtual services are never removed
 * @param clusterCIDRs canonical pod CIDRs (ClusterCIDR local detection)
 * @param nodePortAddresses canonical CIDRs and/or "primary"; empty = every node address
 * @param gracefulBound longest time a removed TCP destination is kept at weight 0
 * @param gracefulCheckInterval how often pending removals are re-checked between syncs
 */
public record IpvsSettings(String scheduler, List<String> excludeCIDRs, boolean strictARP, IpvsTimeouts timeouts,
                           boolean masqueradeAll, int masqueradeMark, List<String> clusterCIDRs,
                           String detectLocalMode, String bridgeInterface, String interfaceNamePrefix,
                           List<String> nodePortAddresses, boolean randomFully, Duration gracefulBound,
                           Duration gracefulCheckInterval) {

    /** Schedulers Linux ships as ip_vs_* modules (for messages; the kernel has the last word). */
    public static final Set<String> KNOWN_SCHEDULERS = Set.of("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh",
            "sed", "nq", "fo", "ovf", "mh", "twos");
    public static final String DUMMY_INTERFACE = "kube-ipvs0";

    public IpvsSettings {
        requireNonNull(scheduler, "scheduler");
        if (scheduler.isEmpty()) {
            scheduler = "rr";
        }
        // Which schedulers exist is the kernel's call (its ip_vs_* modules): the backend probes it.
        if (!scheduler.matches("[a-z0-9_]+") || scheduler.length() >= Ipvs.SCHEDNAME_MAXLEN) {
            throw new IllegalArgumentException("--ipvs-scheduler: \"" + scheduler + "\" (expected: a scheduler name of"
                    + " at most " + (Ipvs.SCHEDNAME_MAXLEN - 1) + " characters, e.g. " + new java.util.TreeSet<>(KNOWN_SCHEDULERS) + ")");
        }
        excludeCIDRs = canonicalCidrs("--ipvs-exclude-cidrs", excludeCIDRs);
        clusterCIDRs = canonicalCidrs("--cluster-cidr", clusterCIDRs);
        requireNonNull(timeouts, "timeouts");
        requireNonNull(detectLocalMode, "detectLocalMode");
        bridgeInterface = bridgeInterface == null ? "" : bridgeInterface;
        interfaceNamePrefix = interfaceNamePrefix == null ? "" : interfaceNamePrefix;
        List<String> npa = new ArrayList<>();
        for (String a : nodePortAddresses) {
            npa.add("primary".equals(a) ? a : IpAddresses.canonicalCidr(a));
        }
        nodePortAddresses = List.copyOf(npa);
        requireNonNull(gracefulBound, "gracefulBound");
        requireNonNull(gracefulCheckInterval, "gracefulCheckInterval");
    }

    public static IpvsSettings from(ProxyConfig config, Set<String> hostFeatures) {
        var i = config.ipvs();
        return new IpvsSettings(i.scheduler(), i.excludeCIDRs(), i.strictARP(),
                new IpvsTimeouts(seconds(i.tcpTimeout()), seconds(i.tcpFinTimeout()), seconds(i.udpTimeout())),
                config.masqueradeAll(), config.masqueradeMark(), config.clusterCIDRs(), config.detectLocalMode(),
                config.bridgeInterface(), config.interfaceNamePrefix(), config.nodePortAddresses(),
                hostFeatures.contains("random-fully"), Duration.ofMinutes(15), Duration.ofSeconds(60));
    }

    public IpvsSettings withGraceful(Duration bound, Duration checkInterval) {
        return new IpvsSettings(scheduler, excludeCIDRs, strictARP, timeouts, masqueradeAll, masqueradeMark,
                clusterCIDRs, detectLocalMode, bridgeInterface, interfaceNamePrefix, nodePortAddresses, randomFully,
                bound, checkInterval);
    }

    public boolean excluded(String ip) {
        for (String cidr : excludeCIDRs) {
            if (IpAddresses.cidrContains(cidr, ip)) {
                return true;
            }
        }
        return false;
    }

    /** The first cluster CIDR of {@code family}, null when none. */
    public String clusterCidr(IpFamily family) {
        for (String c : clusterCIDRs) {
            if (IpAddresses.familyOf(c) == family) {
                return c;
            }
        }
        return null;
    }

    public String masqueradeMarkHex() {
        return "0x" + Integer.toHexString(masqueradeMark);
    }

    private static int seconds(Duration d) {
        long s = d.getSeconds();
        if (s > Integer.MAX_VALUE || s < 0) {
            throw new IllegalArgumentException("IPVS timeout: " + d + " (expected: 0 to " + Integer.MAX_VALUE + " s)");
        }
        return (int) s;
    }

    private static List<String> canonicalCidrs(String what, List<String> cidrs) {
        List<String> out = new ArrayList<>();
        for (String c : cidrs) {
            try {
                out.add(IpAddresses.canonicalCidr(c));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + ": " + e.getMessage(), e);
            }
        }
        return List.copyOf(out);
    }
}
