package io.pointsman.nftables.bench;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.ExecNft;
import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.SyncResult;
import io.pointsman.nftables.NftablesBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark (not a test) of the nftables mode, run by scripts/bench-nftables.sh: N ClusterIP
 * Services x M endpoints in a fresh network namespace. Measures Pointsman's full sync (render
 * plus one {@code nft -f}), one-endpoint changes, and a restart's read-back full sync; then, in
 * another namespace, an upstream-style ruleset for the same Services (a chain per service port
 * and per endpoint, upstream's documented layout: shared/reference/upstream-kube-proxy.md §3.1
 * and shared/conformance/nftables/upstream) loaded with {@code nft -f}, and one endpoint change
 * in it. Prints "RESULT key value" lines for the script's summary.
 *
 * <p>Arguments: pointsman-namespace upstream-namespace N M changes upstream-timeout-seconds
 */
public final class NftablesBench {
    private static final String NODE = "bench-node";

    private NftablesBench() {
    }

    public static void main(String[] args) throws Exception {
        String nsPointsman = args[0];
        String nsUpstream = args[1];
        int n = Integer.parseInt(args[2]);
        int m = Integer.parseInt(args[3]);
        int changes = Integer.parseInt(args[4]);
        long upstreamTimeout = Long.parseLong(args[5]);

        ProxyState state = state(n, m);
        ProxyConfig config = config();
        System.out.printf("   state: %,d service ports, %,d endpoints%n", state.services().size(), state.endpointCount());

        // Pointsman: first full sync into an empty namespace.
        TimedNft nft = new TimedNft(new ExecNft(List.of("ip", "netns", "exec", nsPointsman)));
        NftablesBackend backend = NftablesBackend.create(config, new ProxyMetrics("nftables"), nft, nsPointsman, () -> { });
        long t0 = System.nanoTime();
        long cpu0 = cpuNanos();
        SyncResult full = backend.sync(state, ChangeSet.NONE, true);
        double fullMs = ms(t0);
        double fullCpuMs = (cpuNanos() - cpu0) / 1e6;
        result("full_ms", fullMs);
        result("full_cpu_ms", fullCpuMs);
        result("full_prepare_ms", full.counts().get("prepareMs"));
        result("full_nft_ms", full.counts().get("nftMs"));
        result("full_netlink_ms", full.counts().get("netlinkMs"));
        result("full_script_mb", nft.lastScriptBytes / 1e6);
        System.out.printf("   Pointsman first full sync (cold JVM): %.0f ms (computing %d ms, nft -f of the structure %d ms,"
                + " netlink transaction of %,d elements %d ms); CPU %.0f ms (all JVM threads, JIT included)%n",
                fullMs, full.counts().get("prepareMs"), full.counts().get("nftMs"), full.counts().get("elementsAdded"),
                full.counts().get("netlinkMs"), fullCpuMs);

        // One-endpoint changes: one endpoint of one Service replaced each time.
        Map<ServicePortName, List<Endpoint>> endpoints = new HashMap<>(state.endpoints());
        List<ServicePortName> names = new ArrayList<>(state.sortedServices().keySet());
        double[] changeMs = new double[changes];
        for (int c = 0; c < changes; c++) {
            ServicePortName name = names.get((int) ((long) c * 7919 % names.size()));
            List<Endpoint> eps = new ArrayList<>(endpoints.get(name));
            eps.set(c % eps.size(), Endpoint.ready("10.250." + (c / 250) + "." + (c % 250 + 1), 8080, "node-x"));
            eps.sort(null);
            endpoints.put(name, eps);
            ProxyState next = new ProxyState(state.node(), state.services(), endpoints);
            nft.reset();
            long t1 = System.nanoTime();
            backend.sync(next, new ChangeSet(Set.of(name), false), false);
            changeMs[c] = ms(t1);
            state = next;
        }
        result("change_ms", median(changeMs));
        result("change_max_ms", max(changeMs));
        System.out.printf("   Pointsman one-endpoint change (one netlink transaction): median %.2f ms, max %.2f ms,"
                + " over %d changes%n", median(changeMs), max(changeMs), changes);

        // A restart: a new backend reads the kernel back and writes only what differs (nothing).
        nft.reset();
        backend.close();
        NftablesBackend restarted = NftablesBackend.create(config, new ProxyMetrics("nftables"), nft, nsPointsman, () -> { });
        long t2 = System.nanoTime();
        SyncResult again = restarted.sync(state, ChangeSet.NONE, true);
        double restartMs = ms(t2);
        result("restart_ms", restartMs);
        long t5 = System.nanoTime();
        var drift = restarted.checkDrift();
        double driftMs = ms(t5);
        result("drift_check_ms", driftMs);
        System.out.printf("   Pointsman drift check (every sync period: read back, compare): %.0f ms, %d object(s) drifted%n",
                driftMs, drift.size());
        restarted.close();
        System.out.printf("   Pointsman restart (read back through netlink, compare, rewrite the rules): %.0f ms;"
                + " elements written %d, deleted %d%n", restartMs, again.counts().getOrDefault("elementsAdded", -1L),
                again.counts().getOrDefault("elementsDeleted", -1L));

        // The same full sync again into an emptied namespace, now that the JIT compiled the code.
        new ExecNft(List.of("ip", "netns", "exec", nsPointsman)).apply("delete table ip pointsman\n");
        try (NftablesBackend warm = NftablesBackend.create(config, new ProxyMetrics("nftables"), nft, nsPointsman, () -> { })) {
            long t3 = System.nanoTime();
            long cpu3 = cpuNanos();
            SyncResult again2 = warm.sync(state, ChangeSet.NONE, true);
            double warmMs = ms(t3);
            result("full_warm_ms", warmMs);
            System.out.printf("   Pointsman full sync again (warm JVM, emptied namespace): %.0f ms (computing %d ms, nft -f %d ms,"
                    + " netlink %d ms); CPU %.0f ms%n", warmMs, again2.counts().get("prepareMs"),
                    again2.counts().get("nftMs"), again2.counts().get("netlinkMs"), (cpuNanos() - cpu3) / 1e6);
        }

        // Upstream style: a chain per service port and per endpoint.
        String upstream = UpstreamStyle.full(state, n, m);
        result("upstream_script_mb", upstream.length() / 1e6);
        System.out.printf("   upstream-style ruleset: %.1f MB script, %,d chains%n", upstream.length() / 1e6,
                n + (long) n * m + 16);
        double upFull = nftFile(nsUpstream, upstream, upstreamTimeout);
        if (upFull < 0) {
            System.out.printf("   upstream-style nft -f: did not finish within %d s%n", upstreamTimeout);
            result("upstream_full_timeout_s", upstreamTimeout);
            return;
        }
        result("upstream_full_ms", upFull);
        result("upstream_full_cpu_ms", lastCpuMs);
        System.out.printf("   upstream-style nft -f: %.0f ms (CPU %.0f ms); Pointsman's first full sync is %.1fx faster%n",
                upFull, lastCpuMs, upFull / fullMs);
        double[] upChange = new double[Math.min(changes, 3)];
        for (int c = 0; c < upChange.length; c++) {
            upChange[c] = nftFile(nsUpstream, UpstreamStyle.endpointChange(state, c), upstreamTimeout);
        }
        result("upstream_change_ms", median(upChange));
        System.out.printf("   upstream-style one-endpoint change (nft -f of its chain changes): median %.0f ms;"
                + " Pointsman's is %.1fx faster%n", median(upChange), median(upChange) / median(changeMs));
    }

    static ProxyConfig config() {
        ProxyConfig.Builder b = ProxyConfig.defaults().toBuilder();
        b.mode = "nftables";
        b.hostnameOverride = NODE;
        b.clusterCIDRs = List.of("10.128.0.0/9");
        return b.build();
    }

    /** N ClusterIP Services (TCP 80), M endpoints each on other nodes (port 8080). */
    static ProxyState state(int n, int m) {
        Map<ServicePortName, ServicePort> services = new HashMap<>();
        Map<ServicePortName, List<Endpoint>> endpoints = new HashMap<>();
        for (int i = 0; i < n; i++) {
            ServicePortName name = new ServicePortName("ns" + (i % 100), "svc" + i, "http", Protocol.TCP);
            services.put(name, ServicePort.clusterIp(name, ip(10, 96, i + 1), 80));
            List<Endpoint> eps = new ArrayList<>(m);
            for (int j = 0; j < m; j++) {
                eps.add(Endpoint.ready(ip(10, 128, i * m + j + 1), 8080, "node-" + (i % 50)));
            }
            eps.sort(null);
            endpoints.put(name, eps);
        }
        return new ProxyState(new NodeInfo(NODE, Map.of(), List.of("192.168.0.2"), List.of()), services, endpoints);
    }

    static String ip(int a, int b, int offset) {
        int v = (b << 16) + offset;
        return a + "." + ((v >> 16) & 255) + "." + ((v >> 8) & 255) + "." + (v & 255);
    }

    /** CPU time (user + system) of the last {@link #nftFile} run, -1 when unknown. */
    static double lastCpuMs = -1;

    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** nft -f of a file in a namespace; milliseconds, or -1 when it did not finish in time. */
    static double nftFile(String ns, String script, long timeoutSeconds) throws IOException, InterruptedException {
        Path file = Files.createTempFile("pm-bench-", ".nft");
        try {
            Files.writeString(file, script, StandardCharsets.UTF_8);
            long t = System.nanoTime();
            Process p = new ProcessBuilder("ip", "netns", "exec", ns, "/usr/bin/time", "-f", "CPU %U %S", "nft", "-f",
                    file.toString()).redirectErrorStream(true).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                // time(1) forks nft: end the whole tree, or nft would go on loading (and holding our output).
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor();
                return -1;
            }
            double elapsed = ms(t);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IllegalStateException("nft -f of the upstream-style script failed: "
                        + out.substring(0, Math.min(out.length(), 2000)));
            }
            lastCpuMs = -1;
            for (String line : out.split("\n")) {
                if (line.startsWith("CPU ")) {
                    String[] f = line.split(" ");
                    lastCpuMs = (Double.parseDouble(f[1]) + Double.parseDouble(f[2])) * 1000;
                }
            }
            return elapsed;
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Times the door's calls. */
    static final class TimedNft implements Nft {
        final Nft nft;
        double applyMs;
        double listMs;
        long lastScriptBytes;

        TimedNft(Nft nft) {
            this.nft = nft;
        }

        void reset() {
            applyMs = 0;
            listMs = 0;
        }

        @Override
        public void apply(String script) throws NftException {
            long t = System.nanoTime();
            nft.apply(script);
            applyMs += ms(t);
            lastScriptBytes = script.length();
        }

        @Override
        public String listJson(List<String> what) throws NftException {
            long t = System.nanoTime();
            try {
                return nft.listJson(what);
            } finally {
                listMs += ms(t);
            }
        }
    }

    static double ms(long since) {
        return (System.nanoTime() - since) / 1e6;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? 0 : s[s.length / 2];
    }

    static double max(double[] v) {
        return Arrays.stream(v).max().orElse(0);
    }

    static void result(String key, double value) {
        System.out.printf("RESULT %s %.3f%n", key, value);
    }
}
