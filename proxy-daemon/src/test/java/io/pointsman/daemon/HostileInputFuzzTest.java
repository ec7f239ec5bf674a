package io.pointsman.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.source.ChangeTracker;
import io.pointsman.core.source.MalformedObjectException;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import io.pointsman.daemon.HostileObjects.Outcome;
import io.pointsman.daemon.HostileObjects.PortCase;
import io.pointsman.daemon.HostileObjects.ServiceCase;
import io.pointsman.daemon.HostileObjects.SliceCase;
import io.pointsman.iptables.ChainNames;
import io.pointsman.iptables.IptablesBackend;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * A fuzzer with a fixed seed and a bounded count: 1,000 Services and their EndpointSlices with
 * wrong, extreme and hostile values (invalid and mixed-family IPs, ports 0 and 70000, duplicate
 * ports, one slice of 10,000 endpoints, names with quotes, newlines and shell characters, unknown
 * protocols, huge annotations), built as fabric8 objects and fed through the real
 * {@link ChangeTracker} into the real iptables backend, whose every restore payload goes through
 * {@code iptables-restore --test} and is then applied inside a throwaway network namespace.
 * Then rounds of churn (changed, re-mutated and deleted objects) drive partial syncs the same way.
 *
 * <p>Asserted: nothing throws; no payload is rejected (the count must be 0); every bad object is
 * skipped with exactly one warning naming it, in one printable line; every good Service port is
 * programmed (its KUBE-SVC chain when it has endpoints, its REJECT rule otherwise).
 */
class HostileInputFuzzTest {
    private static final long SEED = 20_260_107L;
    private static final int SERVICES = 1_000;
    private static final double HOSTILE = 0.4;
    private static final int CHURN_ROUNDS = 4;
    private static final int CHURN_PER_ROUND = 60;
    private static final String NODE = "fuzz-node";

    /** Runs every payload through {@code iptables-restore --test}, then applies it, inside one namespace. */
    static final class TestingNetfilter implements Netfilter {
        private final Netns ns;
        int restores;
        int rejected;
        long lines;
        final List<String> rejections = new ArrayList<>();
        /** "tool [--test] N lines M ms" per run, for the report. */
        final List<String> calls = new ArrayList<>();

        TestingNetfilter(Netns ns) {
            this.ns = ns;
        }

        @Override
        public void restore(IpFamily family, String payload) throws RestoreException {
            String tool = family == IpFamily.IPv4 ? "iptables-restore" : "ip6tables-restore";
            restores++;
            lines += payload.lines().count();
            for (List<String> args : List.of(List.of(tool, "-w", "5", "--test", "--noflush"),
                    List.of(tool, "-w", "5", "--noflush"))) {
                long t = System.nanoTime();
                Netns.Result r = run(args, payload);
                calls.add(String.join(" ", args.subList(0, 1)) + (args.contains("--test") ? " --test" : "") + " "
                        + payload.lines().count() + " lines " + (System.nanoTime() - t) / 1_000_000 + " ms");
                if (r.exit() != 0) {
                    rejected++;
                    rejections.add(String.join(" ", args) + " exited " + r.exit() + ": " + r.output().strip());
                    throw new RestoreException(String.join(" ", args) + " exited " + r.exit() + ": " + r.output(), 0, "");
                }
            }
        }

        /** Runs a tool in the namespace with {@code stdin}; a tool that stops reading early is not an error here. */
        private Netns.Result run(List<String> args, String stdin) {
            List<String> cmd = new ArrayList<>(ns.prefix());
            cmd.addAll(args);
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                Thread writer = new Thread(() -> {
                    try (var in = p.getOutputStream()) {
                        in.write(stdin.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    } catch (java.io.IOException e) {
                        // The tool rejected a line and exited: its exit code and message tell.
                    }
                }, "restore-stdin");
                writer.start();
                String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return new Netns.Result(-1, out + "\n(killed after 120 s)");
                }
                writer.join();
                return new Netns.Result(p.exitValue(), out);
            } catch (java.io.IOException e) {
                return new Netns.Result(-1, "cannot run " + cmd + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Netns.Result(-1, "interrupted running " + cmd);
            }
        }

        @Override
        public String save(IpFamily family, String table) throws RestoreException {
            String tool = family == IpFamily.IPv4 ? "iptables-save" : "ip6tables-save";
            Netns.Result r = ns.execStatus(null, tool, "-t", table);
            if (r.exit() != 0) {
                throw new RestoreException(tool + " -t " + table + " exited " + r.exit() + ": " + r.output(), 0, "");
            }
            return r.output();
        }
    }

    @Test
    @Timeout(300)
    void hostileObjectsNeverBreakAPayloadAndEveryGoodServiceIsProgrammed() throws Exception {
        Kernel.require("ip", "iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save");
        Logger trackerLog = (Logger) LoggerFactory.getLogger(ChangeTracker.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        trackerLog.addAppender(logged);
        boolean additive = trackerLog.isAdditive();
        trackerLog.setAdditive(false); // a thousand warnings would drown the build's output
        try (Netns ns = Netns.create("fuzz")) {
            TestingNetfilter netfilter = new TestingNetfilter(ns);
            ProxyConfig.Builder cb = ProxyConfig.defaults().toBuilder();
            cb.clusterCIDRs = List.of("10.244.0.0/16", "fd00:244::/48");
            cb.hostnameOverride = NODE;
            ProxyConfig config = cb.build();
            ProxyMetrics metrics = new ProxyMetrics("iptables");
            IptablesBackend backend = new IptablesBackend(new BackendContext(config, metrics, netfilter,
                    Set.of("random-fully"), false));
            ChangeTracker tracker = new ChangeTracker(NODE, metrics);
            tracker.updateNode(new NodeBuilder().withNewMetadata().withName(NODE).withResourceVersion("1").endMetadata()
                    .withNewStatus().addNewAddress().withType("InternalIP").withAddress("192.168.77.1").endAddress()
                    .endStatus().build());

            HostileObjects gen = new HostileObjects(SEED, NODE);
            Map<String, ServiceCase> services = new LinkedHashMap<>();
            Map<String, SliceCase> slices = new LinkedHashMap<>();
            int hugeAt = new Random(SEED).nextInt(SERVICES);
            long t0 = System.nanoTime();
            for (int i = 0; i < SERVICES; i++) {
                HostileObjects.Generated g = gen.generate(i, HOSTILE, i == hugeAt);
                feed(tracker, g, services, slices);
            }
            System.out.printf("[fuzz] generated and fed in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            tracker.markServicesSynced();
            tracker.markEndpointSlicesSynced();
            tracker.markNodeSynced();
            int objects = services.size() + slices.size();
            List<ILoggingEvent> firstFeed = List.copyOf(logged.list);

            // One line per bad object, naming it; none for good objects; none spans lines.
            Map<String, Long> expectedSkipLines = new TreeMap<>();
            Map<String, Long> expectedWarned = new TreeMap<>();
            for (ServiceCase c : services.values()) {
                String d = describe("Service", c.service().getMetadata());
                if (c.outcome() == Outcome.SKIPPED) {
                    expectedSkipLines.merge(d, 1L, Long::sum);
                } else if (c.outcome() == Outcome.WARNED) {
                    expectedWarned.merge(d, 1L, Long::sum);
                }
            }
            for (SliceCase c : slices.values()) {
                if (c.outcome() == Outcome.SKIPPED) {
                    expectedSkipLines.merge(describe("EndpointSlice", c.slice().getMetadata()), 1L, Long::sum);
                }
            }
            Map<String, Long> skipLines = firstFeed.stream()
                    .filter(e -> e.getLevel() == Level.WARN && e.getFormattedMessage().contains("not programmed"))
                    .collect(Collectors.groupingBy(e -> objectOf(e.getFormattedMessage()), TreeMap::new,
                            Collectors.counting()));
            Map<String, Long> warnLines = firstFeed.stream()
                    .filter(e -> e.getLevel() == Level.WARN && !e.getFormattedMessage().contains("not programmed"))
                    .collect(Collectors.groupingBy(e -> objectOf(e.getFormattedMessage()), TreeMap::new,
                            Collectors.counting()));
            assertThat(skipLines).as("one 'not programmed' warning per skipped object").isEqualTo(expectedSkipLines);
            assertThat(warnLines.keySet()).as("objects with a dropped value warned about")
                    .isEqualTo(expectedWarned.keySet());
            assertThat(firstFeed).as("log lines are single printable lines")
                    .allSatisfy(e -> assertThat(e.getFormattedMessage()).doesNotContain("\n", "\r", "\u001b", "\u0000")
                            .hasSizeLessThan(2_000));

            // The full sync, then churn with partial syncs.
            int syncs = 0;
            syncOnce(tracker, backend, true);
            syncs++;
            long fullSyncDone = System.nanoTime();
            Random churn = new Random(SEED + 1);
            int deleted = 0;
            int regenerated = 0;
            for (int round = 0; round < CHURN_ROUNDS; round++) {
                for (int k = 0; k < CHURN_PER_ROUND; k++) {
                    int i = churn.nextInt(SERVICES);
                    if (i == hugeAt) {
                        continue;
                    }
                    ServiceCase old = findByIndex(services, i);
                    if (churn.nextInt(4) == 0 && old != null) {
                        delete(tracker, old, services, slices);
                        deleted++;
                    } else {
                        if (old != null) {
                            delete(tracker, old, services, slices);
                        }
                        feed(tracker, gen.generate(i, HOSTILE, false), services, slices);
                        regenerated++;
                    }
                }
                syncOnce(tracker, backend, false);
                syncs++;
            }
            objects += regenerated * 2;

            // Every good Service port programmed, no skipped one.
            String nat4 = netfilter.save(IpFamily.IPv4, "nat") ;
            String nat6 = netfilter.save(IpFamily.IPv6, "nat");
            String filter4 = netfilter.save(IpFamily.IPv4, "filter");
            String filter6 = netfilter.save(IpFamily.IPv6, "filter");
            Set<String> rejectRules = serviceRules(filter4 + filter6);
            Set<String> jumpRules = serviceRules(nat4 + nat6);
            int programmedPorts = 0;
            int withEndpoints = 0;
            List<String> missing = new ArrayList<>();
            for (ServiceCase c : services.values()) {
                String ns0 = c.service().getMetadata().getNamespace();
                String name = c.service().getMetadata().getName();
                for (PortCase p : c.ports()) {
                    boolean v6 = p.clusterIp().contains(":");
                    boolean hasEndpoints = slices.values().stream().anyMatch(s -> s.serviceKey().equals(c.key())
                            && s.outcome() != Outcome.SKIPPED
                            && s.slice().getAddressType().equals(v6 ? "IPv6" : "IPv4"));
                    String chain = ChainNames.serviceChain(new ServicePortName(ns0, name, p.name(),
                            Protocol.parse(p.protocol())));
                    String rule = p.clusterIp() + " " + p.protocol().toLowerCase() + " " + p.port() + " ";
                    boolean ok = hasEndpoints ? jumpRules.contains(rule + chain) : rejectRules.contains(rule + "REJECT");
                    if (!ok) {
                        missing.add(c.key() + ":" + p.name() + " " + p.protocol() + " " + p.clusterIp() + ":" + p.port()
                                + (hasEndpoints ? " (chain " + chain + ")" : " (no endpoints: REJECT)") + " mutation "
                                + c.mutation());
                    }
                    programmedPorts++;
                    withEndpoints += hasEndpoints ? 1 : 0;
                }
            }
            long skippedServices = services.values().stream().filter(c -> c.outcome() == Outcome.SKIPPED).count();
            long skippedSlices = slices.values().stream().filter(c -> c.outcome() == Outcome.SKIPPED).count();
            Map<String, Long> mutations = new TreeMap<>();
            services.values().forEach(c -> mutations.merge("Service: " + c.mutation(), 1L, Long::sum));
            slices.values().forEach(c -> mutations.merge("EndpointSlice: " + c.mutation(), 1L, Long::sum));
            System.out.printf("[fuzz] seed %d: %d objects fed (%d Services, %d EndpointSlices at the end; %d"
                            + " regenerated, %d deleted in %d churn rounds); skipped %d Services and %d slices, each with"
                            + " one warning; %d service ports checked programmed (%d with endpoints); %d syncs, %d"
                            + " restores, %d payload lines, %d rejected; full sync of the first feed %d ms, all %d ms%n",
                    SEED, objects, services.size(), slices.size(), regenerated, deleted, CHURN_ROUNDS, skippedServices,
                    skippedSlices, programmedPorts, withEndpoints, syncs, netfilter.restores, netfilter.lines,
                    netfilter.rejected, (fullSyncDone - t0) / 1_000_000, (System.nanoTime() - t0) / 1_000_000);
            System.out.println("[fuzz] mutations at the end: " + mutations);
            System.out.println("[fuzz] restores: " + netfilter.calls);

            assertThat(netfilter.rejections).as("payloads iptables-restore rejected").isEmpty();
            assertThat(netfilter.rejected).isZero();
            assertThat(missing).as("good service ports not programmed").isEmpty();
            assertThat(skippedServices).as("skipped Services (the fuzzer must produce bad ones)").isGreaterThan(100);
            assertThat(withEndpoints).as("ports with endpoints").isGreaterThan(500);
            assertThat(nat4.lines().filter(l -> l.startsWith(":KUBE-SEP-")).count())
                    .as("endpoint chains (one slice has 10,000 endpoints)").isGreaterThan(10_000);
            for (ServiceCase c : services.values()) {
                if (c.outcome() == Outcome.SKIPPED) {
                    String ip = c.service().getSpec().getClusterIP();
                    if (ip != null && ip.matches("10\\.96\\.\\d+\\.\\d+")) {
                        assertThat(nat4 + filter4).as("rules of skipped %s (%s)", c.key(), c.mutation())
                                .doesNotContain("-d " + ip + "/32 ");
                    }
                }
            }
        } finally {
            trackerLog.detachAppender(logged);
            trackerLog.setAdditive(additive);
        }
    }

    private static void syncOnce(ChangeTracker tracker, IptablesBackend backend, boolean full) throws SyncException {
        ChangeTracker.Drained d = tracker.drain();
        backend.sync(d.state(), d.changes(), full);
    }

    private static void feed(ChangeTracker tracker, HostileObjects.Generated g, Map<String, ServiceCase> services,
                             Map<String, SliceCase> slices) {
        tracker.updateService(g.service().service());
        services.put(identity(g.service().service().getMetadata()), g.service());
        for (SliceCase s : g.slices()) {
            tracker.updateEndpointSlice(s.slice());
            slices.put(identity(s.slice().getMetadata()), s);
        }
    }

    private static void delete(ChangeTracker tracker, ServiceCase c, Map<String, ServiceCase> services,
                               Map<String, SliceCase> slices) {
        var m = c.service().getMetadata();
        if (m.getName() != null) {
            tracker.deleteService(m.getNamespace(), m.getName());
        }
        services.remove(identity(m));
        slices.values().removeIf(s -> {
            if (s.index() != c.index()) {
                return false;
            }
            var sm = s.slice().getMetadata();
            tracker.deleteEndpointSlice(sm.getNamespace(), sm.getName());
            return true;
        });
    }

    private static ServiceCase findByIndex(Map<String, ServiceCase> services, int i) {
        return services.values().stream().filter(c -> c.index() == i).findFirst().orElse(null);
    }

    /** Identity across regenerations: kind, namespace, name and resourceVersion (names may be hostile or missing). */
    private static String identity(io.fabric8.kubernetes.api.model.ObjectMeta m) {
        return m.getNamespace() + "/" + m.getName() + "#" + m.getResourceVersion();
    }

    /** How the tracker names an object in its warnings. */
    private static String describe(String kind, io.fabric8.kubernetes.api.model.ObjectMeta m) {
        String name = m.getName() == null || m.getName().isEmpty() ? "<unnamed>"
                : MalformedObjectException.printable(m.getName());
        return kind + " " + MalformedObjectException.printable(m.getNamespace()) + "/" + name;
    }

    /** "Service ns/name" from "Service ns/name: problem ..." ("Kind ns/name" of a warning line). */
    private static String objectOf(String message) {
        int colon = message.indexOf(": ");
        return colon < 0 ? message : message.substring(0, colon);
    }

    /** "ip proto port target" of every rule of a KUBE-SERVICES chain that names a destination and port. */
    private static Set<String> serviceRules(String save) {
        Set<String> out = new java.util.HashSet<>();
        Pattern d = Pattern.compile(" -d ([0-9a-f.:]+)/\\d+");
        Pattern p = Pattern.compile(" -p (\\w+)");
        Pattern port = Pattern.compile(" --dport (\\d+)");
        Pattern target = Pattern.compile(" -j ([\\w-]+)");
        for (String line : save.lines().toList()) {
            if (line.startsWith("-A KUBE-SERVICES ")) {
                Matcher md = d.matcher(line);
                Matcher mp = p.matcher(line);
                Matcher mport = port.matcher(line);
                Matcher mt = target.matcher(line);
                if (md.find() && mp.find() && mport.find() && mt.find()) {
                    out.add(md.group(1) + " " + mp.group(1) + " " + mport.group(1) + " " + mt.group(1));
                }
            }
        }
        return out;
    }
}
