package io.pointsman.iptables;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.SyncException;
import io.pointsman.iptables.IptablesRenderer.Extra;
import io.pointsman.iptables.IptablesRenderer.Rendered;
import io.pointsman.iptables.IptablesRenderer.ServiceChains;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The iptables rules of one IP family: renders, applies through {@link Netfilter}, and remembers
 * which per-service chains it wrote so a partial sync can delete the ones no longer wanted
 * without reading the kernel back.
 */
final class FamilySync {
    private static final Logger log = LoggerFactory.getLogger(FamilySync.class);

    private final IpFamily family;
    private final IptablesRenderer renderer;
    private final Netfilter netfilter;
    private final ProxyMetrics metrics;
    private final StringBuilder payload = new StringBuilder(1 << 16);

    /** Per-service chains in the kernel, as of the last successful sync. */
    private final Map<ServicePortName, ServiceChains> owned = new HashMap<>();
    private long ownedRules;
    /** True until a full sync succeeded, and again after any failure: the kernel state is then unknown. */
    private boolean needFull = true;

    /**
     * What one sync of this family did.
     *
     * @param deletedChains stale per-service chains deleted
     * @param natRulesTotal nat rules owned after the sync, written or kept
     */
    record Outcome(boolean full, int servicePortsWritten, int filterChains, int filterRules, int natChains,
                   int natRules, int deletedChains, long natRulesTotal) {
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
        boolean doFull = full || needFull || changes.nodeChanged();
        Set<ServicePortName> changed = changes.servicePorts();
        Predicate<ServicePortName> write = doFull ? name -> true : changed::contains;
        Rendered r = renderer.render(state, write);

        List<String> deleted = new ArrayList<>();
        Extra filterExtra = Extra.NONE;
        Extra natExtra = Extra.NONE;
        if (doFull) {
            SavedTable filter = save("filter");
            SavedTable nat = save("nat");
            Set<String> active = new HashSet<>();
            for (ServiceChains sc : r.written().values()) {
                active.addAll(sc.chains());
            }
            // Chains left by an earlier run (ours or kube-proxy's) that nothing refers to any more.
            for (String chain : nat.chains()) {
                if (ChainNames.isServiceChain(chain) && !active.contains(chain)) {
                    deleted.add(chain);
                }
            }
            filterExtra = JumpRules.missing("filter", filter, renderer.topLevelChains("filter"));
            natExtra = JumpRules.missing("nat", nat, renderer.topLevelChains("nat"));
        } else {
            for (ServicePortName name : changed) {
                ServiceChains before = owned.get(name);
                if (before == null) {
                    continue;
                }
                ServiceChains after = r.written().get(name);
                Set<String> keep = after == null ? Set.of() : new HashSet<>(after.chains());
                for (String chain : before.chains()) {
                    if (!keep.contains(chain)) {
                        deleted.add(chain);
                    }
                }
            }
        }
        deleted.sort(null);

        payload.setLength(0);
        renderer.writePayload(payload, filterExtra, natExtra, deleted);
        try {
            netfilter.restore(family, payload.toString());
        } catch (RestoreException e) {
            needFull = true;
            metrics.restoreFailure(family, !doFull);
            throw new SyncException(family + " " + (doFull ? "full" : "partial") + " sync: " + describe(e)
                    + "; tables before the failing one may be applied, the rest keep their previous rules;"
                    + " the next sync is full", e);
        }

        int writtenRules = 0;
        if (doFull) {
            owned.clear();
            ownedRules = 0;
        } else {
            for (ServicePortName name : changed) {
                ServiceChains before = owned.remove(name);
                if (before != null) {
                    ownedRules -= before.rules();
                }
            }
        }
        for (Map.Entry<ServicePortName, ServiceChains> e : r.written().entrySet()) {
            owned.put(e.getKey(), e.getValue());
            ownedRules += e.getValue().rules();
            writtenRules += e.getValue().rules();
        }
        needFull = false;

        long natTotal = (r.natRules() - writtenRules) + ownedRules;
        metrics.iptablesRules("filter", family, r.filterRules(), r.filterRules());
        metrics.iptablesRules("nat", family, natTotal, r.natRules());
        metrics.noLocalEndpoints("internal", family, r.noLocalInternal());
        metrics.noLocalEndpoints("external", family, r.noLocalExternal());
        log.debug("{} {} sync applied: {} service ports written, {} nat rules written, {} chains deleted", family,
                doFull ? "full" : "partial", r.written().size(), r.natRules(), deleted.size());
        return new Outcome(doFull, r.written().size(),
                r.filterChains() + filterExtra.chainLines().size(), r.filterRules(),
                r.natChains() + natExtra.chainLines().size(), r.natRules(), deleted.size(), natTotal);
    }

    /** The full-sync payload of {@code state}, without jump rules or deletions, touching nothing. */
    String renderFull(ProxyState state) {
        renderer.render(state);
        return renderer.payload();
    }

    /** Reads a table back; only full syncs do, to find missing jumps and stale chains. */
    private SavedTable save(String table) throws SyncException {
        try {
            return SavedTable.parse(netfilter.save(family, table));
        } catch (RestoreException e) {
            needFull = true;
            throw new SyncException(family + " full sync: cannot read table " + table + ": " + e.getMessage()
                    + "; nothing was written", e);
        }
    }

    /** The tool's complaint with the offending payload line, when it named one. */
    private static String describe(RestoreException e) {
        if (e.line() > 0 && (e.getMessage() == null || !e.getMessage().contains(e.lineText()))) {
            return e.getMessage() + " (line " + e.line() + ": " + e.lineText() + ")";
        }
        return e.getMessage();
    }
}
