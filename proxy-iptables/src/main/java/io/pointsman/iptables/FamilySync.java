package io.pointsman.iptables;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.SyncException;
import io.pointsman.iptables.IptablesRenderer.Extra;
import io.pointsman.iptables.IptablesRenderer.Rendered;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The iptables rules of one IP family: renders, applies through {@link Netfilter}, and remembers
 * what it wrote, chain by chain, as digests.
 *
 * <p>A full sync reads both tables back (to find stale chains and missing jump rules) and rewrites
 * every chain in one restore, one atomic commit per table: nothing is flushed on its own, so
 * taking over from upstream kube-proxy or from an earlier run leaves no moment without rules.
 * A partial sync renders only the service ports that changed and writes only the chains whose
 * text differs from what was last written: a dispatch chain such as nat KUBE-SERVICES only when
 * one of its rules changed. A drift check compares the kernel's copy of every chain with the one
 * iptables-save printed after it was written; the next sync rewrites what drifted.
 */
final class FamilySync {
    private static final Logger log = LoggerFactory.getLogger(FamilySync.class);
    private static final List<String> TABLES = List.of("filter", "nat");
    /** The built-in chains jump rules start from, whose rules a drift check looks at. */
    private static final Set<String> JUMP_SOURCES = Set.of("INPUT", "OUTPUT", "FORWARD", "PREROUTING",
            "POSTROUTING");
    /** How many drifted objects a log line names before it only counts them. */
    private static final int LOG_NAMES = 10;

    private final IpFamily family;
    private final IptablesRenderer renderer;
    private final Netfilter netfilter;
    private final ProxyMetrics metrics;
    private final StringBuilder payload = new StringBuilder(1 << 16);
    /** Where a partial sync renders a service port's chains before choosing which to write. */
    private final StringBuilder scratch = new StringBuilder(1 << 12);
    private final TableText filterText = new TableText("filter");
    private final TableText natText = new TableText("nat");

    /** Each service port's rules, as of the last successful restore, in rendering order. */
    private final TreeMap<ServicePortName, ServiceRules> written = new TreeMap<>();
    /** Each top-level chain as last written. */
    private final Map<TopChain, ChainDigest> topWritten = new EnumMap<>(TopChain.class);
    /** The content digest iptables-save printed for each top-level chain since it was written, 0 until seen. */
    private final long[] topSaved = new long[TopChain.COUNT];
    private long natRulesTotal;
    private long filterRulesTotal;
    private int noLocalInternal;
    private int noLocalExternal;
    /** True until a full sync succeeded, and again after any failure: the kernel state is then unknown. */
    private boolean needFull = true;

    // What the last drift check found; the next sync rewrites it.
    private final Set<ServicePortName> driftedServices = new HashSet<>();
    private final Set<String> driftedChains = new HashSet<>();
    private final Set<TopChain> driftedTop = EnumSet.noneOf(TopChain.class);
    private final Set<String> driftedJumps = new LinkedHashSet<>();

    /**
     * What one sync of this family did.
     *
     * @param restored whether anything was written (a partial sync with nothing changed writes nothing)
     * @param servicePortsWritten service ports some of whose rules were written or deleted
     * @param filterChains, natChains chains declared (written or deleted) in the payload
     * @param filterRules, natRules rule lines written
     * @param deletedChains chains deleted
     * @param natRulesTotal nat rules owned after the sync, written or kept
     */
    record Outcome(boolean full, boolean restored, int servicePortsWritten, int filterChains, int filterRules,
                   int natChains, int natRules, int deletedChains, long natRulesTotal) {
    }

    FamilySync(RenderOptions options, Netfilter netfilter, ProxyMetrics metrics) {
        this.family = options.family();
        this.renderer = new IptablesRenderer(options);
        this.netfilter = netfilter;
        this.metrics = metrics;
    }

    IpFamily family() {
        return family;
    }

    /** Forces the next sync to be full (another family failed, so the caller's changes are lost). */
    void invalidate() {
        needFull = true;
    }

    /**
     * Applies {@code state}. A partial sync is widened to a full one when this family never
     * synced, the last sync failed, or the node changed (topology and node IPs shape every chain).
     */
    Outcome sync(ProxyState state, ChangeSet changes, boolean full) throws SyncException {
        try {
            if (full || needFull || changes.nodeChanged()) {
                return fullSync(state);
            }
            return partialSync(state, changes);
        } catch (RuntimeException e) {
            // The bookkeeping may be half updated: only a full sync can be trusted after this.
            needFull = true;
            throw e;
        }
    }

    /** The full-sync payload of {@code state}, without jump rules or deletions, touching nothing. */
    String renderFull(ProxyState state) {
        renderer.render(state);
        return renderer.payload();
    }

    private Outcome fullSync(ProxyState state) throws SyncException {
        SavedTable filter = save("filter");
        SavedTable nat = save("nat");
        Rendered r = renderer.render(state, written::get);

        // Chains left by an earlier run (ours or kube-proxy's) that nothing needs any more. They go
        // in the same commit that rewrites the chains jumping to them, so they are unreferenced.
        List<String> staleNat = new ArrayList<>();
        Set<String> active = null;
        for (String chain : nat.chains()) {
            if (ChainNames.isStaleCandidate(chain)) {
                if (active == null) {
                    active = new HashSet<>();
                    for (ServiceRules sr : r.services().values()) {
                        active.addAll(sr.chains());
                    }
                }
                if (!active.contains(chain)) {
                    staleNat.add(chain);
                }
            } else if (ChainNames.CANARY.equals(chain)) {
                staleNat.add(chain);
            }
        }
        List<String> staleFilter = filter.chains().contains(ChainNames.CANARY) ? List.of(ChainNames.CANARY) : List.of();
        staleNat.sort(null);
        Extra filterExtra = JumpRules.missing("filter", filter, renderer.topLevelChains("filter"))
                .withDeleted(staleFilter);
        Extra natExtra = JumpRules.missing("nat", nat, renderer.topLevelChains("nat")).withDeleted(staleNat);

        payload.setLength(0);
        // Sized once: a large payload grown by doubling would be copied over and over.
        payload.ensureCapacity(renderer.payloadLength() + 64 * (staleNat.size() + filterExtra.ruleLines().size()
                + natExtra.ruleLines().size() + 16));
        renderer.writePayload(payload, filterExtra, natExtra);
        try {
            restore(true);
        } finally {
            renderer.releaseLargeBuffers();
            if (payload.capacity() > IptablesRenderer.LARGE_BUFFER) {
                payload.setLength(0);
                payload.trimToSize();
            }
        }

        written.clear();
        written.putAll(r.services());
        topWritten.clear();
        topWritten.putAll(r.top());
        Arrays.fill(topSaved, 0);
        natRulesTotal = r.natRules();
        filterRulesTotal = r.filterRules();
        noLocalInternal = r.noLocalInternal();
        noLocalExternal = r.noLocalExternal();
        clearDrift();
        needFull = false;

        int deleted = staleNat.size() + staleFilter.size();
        recordMetrics(r.filterRules(), r.natRules());
        log.debug("{} full sync applied: {} service ports, {} nat rules, {} stale chains deleted", family,
                r.servicePorts(), r.natRules(), deleted);
        return new Outcome(true, true, r.servicePorts(),
                r.filterChains() + filterExtra.chainLines().size() + staleFilter.size(), r.filterRules(),
                r.natChains() + natExtra.chainLines().size() + staleNat.size(), r.natRules(), deleted, natRulesTotal);
    }

    /**
     * Renders the changed service ports (and those a drift check found changed), writes each of
     * their chains whose text differs from what was last written, deletes the chains they no
     * longer have, and rewrites a top-level chain only when one of its rules changed.
     */
    private Outcome partialSync(ProxyState state, ChangeSet changes) throws SyncException {
        Set<ServicePortName> todo = new TreeSet<>(changes.servicePorts());
        todo.addAll(driftedServices);
        Set<TopChain> dirty = EnumSet.noneOf(TopChain.class);
        dirty.addAll(driftedTop);
        filterText.reset();
        natText.reset();
        int servicePortsWritten = 0;

        for (ServicePortName name : todo) {
            ServiceRules old = written.get(name);
            ServicePort svc = state.services().get(name);
            scratch.setLength(0);
            ServiceRules now = svc == null ? null
                    : renderer.renderService(svc, state.endpointsOf(name), old, scratch);
            if (now == null && old == null) {
                continue; // not a service port of this family, then or now
            }
            boolean touched = false;
            for (TopChain c : TopChain.DISPATCH) {
                if (!entryOf(now, c).equals(entryOf(old, c))) {
                    dirty.add(c);
                    touched = true;
                }
            }
            if (now != null) {
                for (int i = 0; i < now.chainCount(); i++) {
                    String chain = now.chain(i);
                    int j = old == null ? -1 : old.indexOf(chain);
                    if (j >= 0 && old.digest(j).equals(now.digest(i)) && !driftedChains.contains(chain)) {
                        now.saved[i] = old.saved[j];
                        continue;
                    }
                    natText.declare(chain);
                    natText.rules.append(scratch, now.spanStart(i), now.spanEnd(i));
                    natText.ruleCount += now.digest(i).rules();
                    touched = true;
                }
            }
            if (old != null) {
                for (int j = 0; j < old.chainCount(); j++) {
                    if (now == null || now.indexOf(old.chain(j)) < 0) {
                        natText.deleted.add(old.chain(j));
                        touched = true;
                    }
                }
            }
            servicePortsWritten += touched ? 1 : 0;
            replace(name, old, now);
        }

        Map<TopChain, ChainDigest> topNow = new EnumMap<>(TopChain.class);
        for (TopChain c : renderer.topChains()) {
            if (!dirty.contains(c)) {
                continue;
            }
            TableText t = c.nat() ? natText : filterText;
            t.declare(c.chain);
            int start = t.rules.length();
            renderer.writeTopChain(c, written.values(), t.rules);
            ChainDigest d = ChainDigest.of(t.rules, start, t.rules.length());
            t.ruleCount += d.rules();
            topNow.put(c, d);
        }
        for (String table : new TreeSet<>(tablesOf(driftedJumps))) {
            TableText t = "nat".equals(table) ? natText : filterText;
            Set<String> declared = new HashSet<>();
            for (TopChain c : topNow.keySet()) {
                if (c.table.equals(table)) {
                    declared.add(c.chain);
                }
            }
            Extra jumps = JumpRules.missing(table, save(table), declared);
            for (String line : jumps.chainLines()) {
                t.chains.append(line).append('\n');
                t.chainCount++;
            }
            t.inserts.addAll(jumps.ruleLines());
        }
        natText.deleted.sort(null);

        boolean restored = !filterText.isEmpty() || !natText.isEmpty();
        if (restored) {
            payload.setLength(0);
            filterText.writeTo(payload);
            natText.writeTo(payload);
            restore(false);
        }
        for (Map.Entry<TopChain, ChainDigest> e : topNow.entrySet()) {
            topWritten.put(e.getKey(), e.getValue());
            topSaved[e.getKey().ordinal()] = 0;
        }
        clearDrift();

        recordMetrics(filterText.ruleCount, natText.ruleCount);
        log.debug("{} partial sync: {} service ports rendered, {} written, {} chains declared, {} rules written,"
                        + " {} chains deleted{}", family, todo.size(), servicePortsWritten,
                filterText.chainCount + natText.chainCount, filterText.ruleCount + natText.ruleCount,
                natText.deleted.size(), restored ? "" : "; nothing changed, nothing written");
        return new Outcome(false, restored, servicePortsWritten, filterText.chainCount,
                filterText.ruleCount, natText.chainCount + natText.deleted.size(), natText.ruleCount,
                natText.deleted.size(), natRulesTotal);
    }

    /** Replaces a service port's rules in {@link #written} and the totals kept from them. */
    private void replace(ServicePortName name, ServiceRules old, ServiceRules now) {
        if (old != null) {
            natRulesTotal -= old.natRules();
            filterRulesTotal -= old.filterEntryRules;
            noLocalInternal -= old.noLocalInternal ? 1 : 0;
            noLocalExternal -= old.noLocalExternal ? 1 : 0;
        }
        if (now == null) {
            written.remove(name);
            return;
        }
        written.put(name, now);
        natRulesTotal += now.natRules();
        filterRulesTotal += now.filterEntryRules;
        noLocalInternal += now.noLocalInternal ? 1 : 0;
        noLocalExternal += now.noLocalExternal ? 1 : 0;
    }

    private static String entryOf(ServiceRules sr, TopChain c) {
        return sr == null ? "" : sr.entry(c);
    }

    private void restore(boolean full) throws SyncException {
        try {
            netfilter.restore(family, payload.toString());
        } catch (RestoreException e) {
            // The bookkeeping may already hold the new rules; a full sync rebuilds it from the state.
            needFull = true;
            metrics.restoreFailure(family, !full);
            throw new SyncException(family + " " + (full ? "full" : "partial") + " sync: " + describe(e)
                    + "; tables before the failing one may be applied, the rest keep their previous rules;"
                    + " the next sync is full", e);
        }
    }

    private void recordMetrics(long filterWritten, long natWritten) {
        metrics.iptablesRules("filter", family, filterRulesTotal, filterWritten);
        metrics.iptablesRules("nat", family, natRulesTotal, natWritten);
        metrics.noLocalEndpoints("internal", family, noLocalInternal);
        metrics.noLocalEndpoints("external", family, noLocalExternal);
    }

    /**
     * Reads filter and nat back and compares every chain this family wrote, and the jump rules
     * into them, with what the kernel holds. A chain is compared with what iptables-save printed
     * for it at the first check after it was written (iptables-save reprints our rules in its own
     * spelling); until then only its rule count and jump targets can be compared, and the first
     * check that finds them right takes the kernel's text as the reference. What differs is
     * reported, counted once, and rewritten by the next sync.
     */
    DriftReport checkDrift() throws SyncException {
        if (needFull) {
            return DriftReport.NONE; // the next sync rewrites everything anyway
        }
        List<String> missing = new ArrayList<>();
        List<String> modified = new ArrayList<>();
        int found = 0;
        for (String table : TABLES) {
            ChainDigest.Saved saved = ChainDigest.ofSave(saveText(table, "drift check"), JUMP_SOURCES);
            for (TopChain c : renderer.topChains()) {
                if (!c.table.equals(table)) {
                    continue;
                }
                ChainDigest kernel = saved.chains().get(c.chain);
                Check check = check(topWritten.get(c), topSaved[c.ordinal()], kernel);
                if (check == Check.ADOPT) {
                    topSaved[c.ordinal()] = kernel.content();
                } else if (check != Check.SAME) {
                    (check == Check.MISSING ? missing : modified).add(family + " " + c);
                    found += driftedTop.add(c) ? 1 : 0;
                }
            }
            if ("nat".equals(table)) {
                for (ServiceRules sr : written.values()) {
                    for (int i = 0; i < sr.chainCount(); i++) {
                        String chain = sr.chain(i);
                        ChainDigest kernel = saved.chains().get(chain);
                        Check check = check(sr.digest(i), sr.saved[i], kernel);
                        if (check == Check.ADOPT) {
                            sr.saved[i] = kernel.content();
                        } else if (check != Check.SAME) {
                            (check == Check.MISSING ? missing : modified).add(family + " nat " + chain);
                            driftedServices.add(sr.name);
                            found += driftedChains.add(chain) ? 1 : 0;
                        }
                    }
                }
            }
            for (JumpRules.Jump j : JumpRules.ALL) {
                if (j.table().equals(table) && !saved.keptRules().contains(j.saveLine())) {
                    String what = family + " " + table + " " + j.saveLine();
                    missing.add(what);
                    found += driftedJumps.add(what) ? 1 : 0;
                }
            }
        }
        DriftReport report = new DriftReport(missing, modified);
        if (found > 0) {
            metrics.counter("kubeproxy.sync.proxy.rules.drift.repairs",
                    "Chains and jump rules found missing or changed in the kernel; the next sync rewrites each",
                    Map.of("ip_family", family.name())).increment(found);
        }
        if (!report.isEmpty()) {
            log.warn("{} rules drifted from what was written: {} missing {}, {} changed {}; the next sync rewrites"
                            + " them", family, missing.size(), names(missing), modified.size(), names(modified));
        }
        return report;
    }

    private enum Check { SAME, ADOPT, MISSING, MODIFIED }

    /**
     * @param written our digest of the chain as last written
     * @param saved the kernel's content digest once seen after that write, 0 before
     * @param kernel the kernel's digest now, null when the chain is gone
     */
    private static Check check(ChainDigest written, long saved, ChainDigest kernel) {
        if (kernel == null) {
            return Check.MISSING;
        }
        if (saved != 0) {
            return kernel.content() == saved ? Check.SAME : Check.MODIFIED;
        }
        return written.sameShape(kernel) ? Check.ADOPT : Check.MODIFIED;
    }

    private static String names(List<String> items) {
        if (items.size() <= LOG_NAMES) {
            return items.toString();
        }
        return items.subList(0, LOG_NAMES) + " and " + (items.size() - LOG_NAMES) + " more";
    }

    private static Set<String> tablesOf(Set<String> jumps) {
        Set<String> out = new HashSet<>();
        for (String j : jumps) {
            // "IPv4 filter -A INPUT ...": the table is the second word.
            String[] words = j.split(" ", 3);
            out.add(words[1]);
        }
        return out;
    }

    private void clearDrift() {
        driftedServices.clear();
        driftedChains.clear();
        driftedTop.clear();
        driftedJumps.clear();
    }

    /** Reads a table back to find missing jumps and stale chains. */
    private SavedTable save(String table) throws SyncException {
        return SavedTable.parseBuiltinRules(saveText(table, "sync"));
    }

    private String saveText(String table, String what) throws SyncException {
        try {
            return netfilter.save(family, table);
        } catch (RestoreException e) {
            needFull = true;
            throw new SyncException(family + " " + what + ": cannot read table " + table + ": " + e.getMessage()
                    + "; nothing was written, the next sync is full", e);
        }
    }

    /** The tool's complaint with the offending payload line, when it named one. */
    private static String describe(RestoreException e) {
        if (e.line() > 0 && (e.getMessage() == null || !e.getMessage().contains(e.lineText()))) {
            return e.getMessage() + " (line " + e.line() + ": " + e.lineText() + ")";
        }
        return e.getMessage();
    }

    /**
     * The part of a partial payload for one table: declarations (which create or flush), rules,
     * jump-rule inserts, then deletions. Left out entirely when empty.
     */
    private static final class TableText {
        final String table;
        final StringBuilder chains = new StringBuilder(1 << 10);
        final StringBuilder rules = new StringBuilder(1 << 12);
        final List<String> inserts = new ArrayList<>();
        final List<String> deleted = new ArrayList<>();
        int chainCount;
        int ruleCount;

        TableText(String table) {
            this.table = table;
        }

        void reset() {
            chains.setLength(0);
            rules.setLength(0);
            inserts.clear();
            deleted.clear();
            chainCount = 0;
            ruleCount = 0;
        }

        void declare(String chain) {
            IptablesRenderer.chainLine(chains, chain);
            chainCount++;
        }

        boolean isEmpty() {
            return chains.length() == 0 && rules.length() == 0 && inserts.isEmpty() && deleted.isEmpty();
        }

        void writeTo(StringBuilder out) {
            if (isEmpty()) {
                return;
            }
            out.append('*').append(table).append('\n').append(chains);
            for (String chain : deleted) {
                IptablesRenderer.chainLine(out, chain); // flushes it: a chain must be empty to go
            }
            out.append(rules);
            for (String line : inserts) {
                out.append(line).append('\n');
            }
            for (String chain : deleted) {
                out.append("-X ").append(chain).append('\n');
            }
            out.append("COMMIT\n");
        }
    }
}
