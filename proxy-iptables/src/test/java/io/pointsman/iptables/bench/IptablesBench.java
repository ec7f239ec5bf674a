package io.pointsman.iptables.bench;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.ExecNetfilter;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.iptables.IptablesBackend;
import io.pointsman.iptables.IptablesRenderer;
import io.pointsman.iptables.RenderOptions;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The iptables-mode benchmark (not a test; run by scripts/bench-iptables.sh). For one iptables
 * flavour and one cluster size it measures, against a real kernel inside two throwaway network
 * namespaces (A for Pointsman, B for the bare tool): the full sync and its parts, the bare
 * restore tool on the same payload, rendering, one-endpoint changes, a drift check and the JVM's
 * peak RSS. Every figure is printed as soon as it is known, so a run cut short by its timeout
 * still reports what finished.
 *
 * <p>Usage: {@code IptablesBench FLAVOUR(nft|legacy) NETNS_A NETNS_B SERVICES ENDPOINTS [CHANGES]}
 */
public final class IptablesBench {
    private static final String NODE = "bench-node";

    private final String flavour;
    private final String multi;
    private final String nsA;
    private final String nsB;
    private final int services;
    private final int endpoints;
    private final String tag;

    private IptablesBench(String flavour, String nsA, String nsB, int services, int endpoints) {
        this.flavour = flavour;
        this.multi = "xtables-" + flavour + "-multi";
        this.nsA = nsA;
        this.nsB = nsB;
        this.services = services;
        this.endpoints = endpoints;
        this.tag = String.format(Locale.ROOT, "[%s N=%d M=%d]", flavour, services, endpoints);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: IptablesBench nft|legacy NETNS_A NETNS_B SERVICES ENDPOINTS [CHANGES]");
            System.exit(2);
        }
        String flavour = args[0];
        if (!flavour.equals("nft") && !flavour.equals("legacy")) {
            throw new IllegalArgumentException("flavour: " + flavour + " (expected: nft or legacy)");
        }
        int changes = args.length > 5 ? Integer.parseInt(args[5]) : 5;
        new IptablesBench(flavour, args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]))
                .run(changes);
    }

    /** Times the restore calls the backend makes (the external process) and keeps the last payload. */
    private static final class TimedNetfilter implements Netfilter {
        private final Netfilter real;
        long restoreNanos;
        long saveNanos;
        String lastPayload = "";

        TimedNetfilter(Netfilter real) {
            this.real = real;
        }

        void reset() {
            restoreNanos = 0;
            saveNanos = 0;
        }

        @Override
        public void restore(IpFamily family, String payload) throws RestoreException {
            lastPayload = payload;
            long t0 = System.nanoTime();
            try {
                real.restore(family, payload);
            } finally {
                restoreNanos += System.nanoTime() - t0;
            }
        }

        @Override
        public String save(IpFamily family, String table) throws RestoreException {
            long t0 = System.nanoTime();
            try {
                return real.save(family, table);
            } finally {
                saveNanos += System.nanoTime() - t0;
            }
        }
    }

    private void run(int changes) throws Exception {
        long t0 = System.nanoTime();
        Map<ServicePortName, ServicePort> svcs = new HashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        generate(svcs, eps);
        NodeInfo node = new NodeInfo(NODE, Map.of(), List.of("192.168.0.2"), List.of());
        ProxyState state = new ProxyState(node, svcs, eps);
        say("generated %d services x %d endpoints in %s", services, endpoints, ms(System.nanoTime() - t0));

        ProxyConfig.Builder cb = ProxyConfig.defaults().toBuilder();
        cb.hostnameOverride = NODE;
        cb.clusterCIDRs = List.of("10.0.0.0/8");
        cb.detectLocalMode = "ClusterCIDR";
        ProxyConfig config = cb.build();
        TimedNetfilter netfilter = new TimedNetfilter(new ExecNetfilter(List.of("nsenter", "--net=/run/netns/" + nsA,
                multi)));
        IptablesBackend backend = new IptablesBackend(new BackendContext(config, new ProxyMetrics("iptables"),
                netfilter, Set.of(), false));

        // 1. The first full sync, as a daemon's first sync: cold JVM, empty tables. Then the bare
        // tool on the same payload, from the same empty tables, in namespace B.
        long full = fullSync(backend, netfilter, state, "first full sync (cold JVM, empty tables)", "full");
        Bare bare = bare(nsB, netfilter.lastPayload, true);
        say("  bare %s on the same payload: %s (peak RSS %d MB); full sync / bare = %.2f", tool(), ms(bare.nanos),
                bare.peakKb >> 10, (double) full / bare.nanos);
        result("bare_full_ms", bare.nanos);
        resultRaw("bare_full_rss_mb", bare.peakKb >> 10);

        // 2. Another full sync of the same state (warm JVM, every chain in place: the hourly full
        // sync, or a restart's), and the bare tool on that payload in B, which holds the same rules.
        long again = fullSync(backend, netfilter, state, "repeated full sync (warm JVM, rules in place)", "refull");
        bare = bare(nsB, netfilter.lastPayload, false);
        say("  bare %s on the same payload: %s; full sync / bare = %.2f", tool(), ms(bare.nanos),
                (double) again / bare.nanos);
        result("bare_refull_ms", bare.nanos);

        // 3. Rendering alone (the pure part of a full sync), warm: best of three.
        IptablesRenderer renderer = new IptablesRenderer(RenderOptions.from(config, Set.of(), IpFamily.IPv4));
        long best = Long.MAX_VALUE;
        int len = 0;
        for (int i = 0; i < 3; i++) {
            t0 = System.nanoTime();
            len = renderer.renderPayload(state).length();
            best = Math.min(best, System.nanoTime() - t0);
        }
        say("render of the full payload (%.1f MB), warm, best of 3: %s", len / 1e6, ms(best));
        result("render_ms", best);

        // 4. One-endpoint changes: each replaces one endpoint of another service, then the same
        // payload goes to the bare tool in B, whose tables hold the same rules as A's.
        long[] sync = new long[changes];
        long[] restore = new long[changes];
        long[] ownPartial = new long[changes];
        long[] barePartial = new long[changes];
        int payloadLines = -1;
        int payloadBytes = 0;
        for (int c = 0; c < changes; c++) {
            ServicePortName name = nameOf(1 + c * (services / Math.max(changes, 1)) % services);
            List<Endpoint> list = new ArrayList<>(eps.get(name));
            list.set(list.size() / 2, Endpoint.ready("10.250." + c + ".1", 8080, ""));
            list.sort(null);
            eps.put(name, list);
            // Building the state is the change tracker's job, not the sync's.
            state = new ProxyState(node, svcs, eps);
            netfilter.reset();
            t0 = System.nanoTime();
            backend.sync(state, new ChangeSet(Set.of(name), false), false);
            sync[c] = System.nanoTime() - t0;
            restore[c] = netfilter.restoreNanos;
            ownPartial[c] = sync[c] - restore[c] - netfilter.saveNanos;
            String p = netfilter.lastPayload;
            if (payloadLines >= 0 && lines(p) != payloadLines) {
                say("note: change %d wrote %d lines (the one before wrote %d)", c, lines(p), payloadLines);
            }
            payloadLines = lines(p);
            payloadBytes = p.length();
            barePartial[c] = bare(nsB, p, false).nanos;
        }
        if (changes > 0) {
            String upstreamStyle = String.format(Locale.ROOT, "%,d", upstreamPartialLines(renderer, state));
            say("one-endpoint change, %d times: payload %d lines (%d bytes; upstream's partial sync writes %s lines);"
                            + " sync median %s = restore %s + Pointsman %s (Pointsman max %s); bare restore median %s",
                    changes, payloadLines, payloadBytes, upstreamStyle, ms(median(sync)), ms(median(restore)),
                    ms(median(ownPartial)), ms(max(ownPartial)), ms(median(barePartial)));
            resultRaw("change_payload_lines", payloadLines);
            result("change_sync_ms", median(sync));
            result("change_restore_ms", median(restore));
            result("change_own_ms", median(ownPartial));
            result("change_own_max_ms", max(ownPartial));
            result("change_bare_ms", median(barePartial));
        }

        // 5. Drift checks: the first takes the kernel's text as reference, later ones compare with it.
        t0 = System.nanoTime();
        int drifted = backend.checkDrift().size();
        long first = System.nanoTime() - t0;
        t0 = System.nanoTime();
        drifted += backend.checkDrift().size();
        long second = System.nanoTime() - t0;
        say("drift check (reads filter and nat back): first %s, then %s; %d drifted", ms(first), ms(second), drifted);
        result("drift_ms", second);

        long rssKb = peakRssKb();
        say("JVM peak RSS %d MB (max heap %d MB)", rssKb >> 10, Runtime.getRuntime().maxMemory() >> 20);
        resultRaw("jvm_rss_mb", rssKb >> 10);
        System.out.println("RESULT-END " + tag);
    }

    private long fullSync(IptablesBackend backend, TimedNetfilter netfilter, ProxyState state, String what,
                          String key) throws Exception {
        netfilter.reset();
        long t0 = System.nanoTime();
        backend.sync(state, ChangeSet.NONE, true);
        long full = System.nanoTime() - t0;
        String payload = netfilter.lastPayload;
        long own = full - netfilter.restoreNanos - netfilter.saveNanos;
        say("%s: %s = restore %s + save %s + Pointsman %s (%.1f%% of the sync); payload %,d lines, %.1f MB",
                what, ms(full), ms(netfilter.restoreNanos), ms(netfilter.saveNanos), ms(own), 100.0 * own / full,
                lines(payload), payload.length() / 1e6);
        result(key + "_ms", full);
        result(key + "_restore_ms", netfilter.restoreNanos);
        result(key + "_save_ms", netfilter.saveNanos);
        result(key + "_own_ms", own);
        resultRaw(key + "_payload_lines", lines(payload));
        return full;
    }

    /** Lines a sync that rewrites every top-level chain (as upstream's partial syncs do) would write for one service. */
    private int upstreamPartialLines(IptablesRenderer renderer, ProxyState state) {
        String payload = renderer.renderPayload(state);
        int n = 0;
        Set<String> top = Set.of("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
                "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL", "KUBE-POSTROUTING", "KUBE-MARK-MASQ");
        for (String line : payload.split("\n")) {
            String chain = line.startsWith(":") ? line.substring(1, line.indexOf(' '))
                    : line.startsWith("-A ") ? line.substring(3, line.indexOf(' ', 3)) : null;
            if (chain == null ? !line.isEmpty() : top.contains(chain)) {
                n++; // table headers, COMMITs, and the top-level chains
            }
        }
        // Plus the changed service's chain and every one of its endpoint chains, declared and
        // filled (M + 2 and 3M lines), and the old endpoint chain's declaration and deletion.
        return n + 4 * endpoints + 4;
    }

    private record Bare(long nanos, long peakKb) {
    }

    /** Runs the bare restore tool on {@code payload} inside {@code ns}, as ExecNetfilter runs it. */
    private Bare bare(String ns, String payload, boolean measureRss) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        if (measureRss) {
            cmd.addAll(List.of("/usr/bin/time", "-f", "PEAK_RSS_KB=%M"));
        }
        cmd.addAll(List.of("nsenter", "--net=/run/netns/" + ns, multi, "iptables-restore", "-w", "5", "-W", "100000",
                "--noflush", "--counters"));
        Path err = Files.createTempFile("bench-restore", ".err");
        try {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(err.toFile()).start();
            try (OutputStream in = p.getOutputStream()) {
                in.write(payload.getBytes(StandardCharsets.UTF_8));
            }
            if (!p.waitFor(600, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(tool() + " did not finish in 600 s");
            }
            long nanos = System.nanoTime() - t0;
            String stderr = Files.readString(err);
            if (p.exitValue() != 0) {
                throw new IllegalStateException(tool() + " exited " + p.exitValue() + ": " + stderr.strip());
            }
            long kb = 0;
            int i = stderr.indexOf("PEAK_RSS_KB=");
            if (i >= 0) {
                kb = Long.parseLong(stderr.substring(i + 12).strip().split("\\s+")[0]);
            }
            return new Bare(nanos, kb);
        } finally {
            Files.deleteIfExists(err);
        }
    }

    /** N service ports of 1 port each, M ready endpoints each; every tenth is a NodePort. */
    private void generate(Map<ServicePortName, ServicePort> svcs, Map<ServicePortName, List<Endpoint>> eps) {
        for (int i = 0; i < services; i++) {
            ServicePortName n = nameOf(i);
            String clusterIP = "172.30." + (i / 250) + "." + (i % 250 + 1);
            ServicePort svc = i % 10 == 0
                    ? new ServicePort(n, ServiceType.NODE_PORT, List.of(clusterIP), 80, 30000 + i % 2000, List.of(),
                            List.of(), List.of(), 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, 0, "")
                    : ServicePort.clusterIp(n, clusterIP, 80);
            svcs.put(n, svc);
            List<Endpoint> list = new ArrayList<>(endpoints);
            for (int e = 0; e < endpoints; e++) {
                int host = i * endpoints + e;
                list.add(Endpoint.ready("10." + (host >> 16 & 255) + "." + (host >> 8 & 255) + "." + (host & 255),
                        8080, ""));
            }
            list.sort(null);
            eps.put(n, list);
        }
    }

    private static ServicePortName nameOf(int i) {
        return new ServicePortName("ns" + (i % 100), "svc" + i, "http", Protocol.TCP);
    }

    private String tool() {
        return "iptables-" + flavour + "-restore";
    }

    private void say(String format, Object... args) {
        System.out.println(tag + " " + String.format(Locale.ROOT, format, args));
        System.out.flush();
    }

    /** A machine-readable figure in milliseconds, for the script's summary table. */
    private void result(String key, long nanos) {
        System.out.println(String.format(Locale.ROOT, "RESULT %s %d %d %s %.1f", flavour, services, endpoints, key,
                nanos / 1e6));
        System.out.flush();
    }

    private void resultRaw(String key, long value) {
        System.out.println(String.format(Locale.ROOT, "RESULT %s %d %d %s %d", flavour, services, endpoints, key,
                value));
        System.out.flush();
    }

    private static String ms(long nanos) {
        double m = nanos / 1e6;
        return m >= 1000 ? String.format(Locale.ROOT, "%.2f s", m / 1000) : String.format(Locale.ROOT, "%.1f ms", m);
    }

    private static int lines(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == '\n') {
                n++;
            }
        }
        return n;
    }

    private static long median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static long max(long[] values) {
        return Arrays.stream(values).max().orElse(0);
    }

    /** VmHWM: the most resident memory this process had at any time. */
    private static long peakRssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
