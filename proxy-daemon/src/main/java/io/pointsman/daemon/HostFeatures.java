package io.pointsman.daemon;

import io.micrometer.core.instrument.FunctionCounter;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.Nfacct;
import io.pointsman.core.metrics.ProxyMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/** What the host can do, probed once at start. */
final class HostFeatures {
    private HostFeatures() {
    }

    /** Why the daemon cannot write to the kernel, or null when it can. */
    static String whyNoKernelAccess(String mode) {
        if (!isRoot()) {
            return "not running as root";
        }
        // nftables mode writes with nft; every other mode needs the iptables tools.
        String tool = "nftables".equals(mode) ? "nft" : "iptables-restore";
        if (which(tool) == null) {
            return tool + " not found on the PATH";
        }
        return null;
    }

    /** Host features renderers may use: "random-fully" when iptables is 1.6.2 or newer, as upstream checks. */
    static Set<String> detect(Netfilter netfilter) {
        Set<String> features = new HashSet<>();
        if (netfilter.dryRun()) {
            return features;
        }
        int[] v = iptablesVersion();
        if (v != null && (v[0] > 1 || (v[0] == 1 && (v[1] > 6 || (v[1] == 6 && v[2] >= 2))))) {
            features.add("random-fully");
        }
        return features;
    }

    /**
     * Creates upstream's two nfacct counters when the host has nfacct (tool and kernel support)
     * and exports them as upstream's iptables-mode metrics; answers whether rules may use them.
     */
    static boolean nfacctCounters(Nfacct nfacct, ProxyMetrics metrics) {
        if (which("nfacct") == null || !nfacct.ensure(Nfacct.INVALID_DROPPED)
                || !nfacct.ensure(Nfacct.LOCALHOST_NODEPORTS_ACCEPTED)) {
            return false;
        }
        FunctionCounter.builder("kubeproxy.iptables.ct.state.invalid.dropped.packets", nfacct,
                        n -> Math.max(0, n.packets(Nfacct.INVALID_DROPPED)))
                .description("[ALPHA] packets dropped by iptables to work around conntrack problems")
                .register(metrics.registry());
        FunctionCounter.builder("kubeproxy.iptables.localhost.nodeports.accepted.packets", nfacct,
                        n -> Math.max(0, n.packets(Nfacct.LOCALHOST_NODEPORTS_ACCEPTED)))
                .description("[ALPHA] Number of packets accepted on nodeports of loopback interface")
                .register(metrics.registry());
        return true;
    }

    /** Parses "iptables v1.8.9 (nf_tables)"; null when iptables cannot be run. */
    static int[] iptablesVersion() {
        try {
            Process p = new ProcessBuilder("iptables", "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            return parseVersion(out);
        } catch (java.io.IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    static int[] parseVersion(String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("v(\\d+)\\.(\\d+)\\.(\\d+)").matcher(text);
        if (!m.find()) {
            return null;
        }
        return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
    }

    static boolean isRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (Exception e) {
            return false;
        }
    }

    static Path which(String tool) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return Path.of(dir, tool);
            }
        }
        return null;
    }
}
