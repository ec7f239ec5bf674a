package io.pointsman.nftables;

import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.SyncException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The table of one IP family: keeps the wanted table up to date one service port at a time, and
 * a model of what the kernel holds, so a sync writes only the difference.
 *
 * <p>A sync is prepared here, applied by the caller (one {@code nft -f} for every family), then
 * committed or abandoned. After a failure, or when the caller asks for a full sync, the kernel is
 * read back and everything is compared, so drift (a flushed table, a deleted element) is repaired
 * and a restart flushes nothing.
 */
final class FamilySync {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(FamilySync.class);
    private final NftOptions options;
    private final Ruleset ruleset;
    private final Nft nft;
    private final NetlinkTables netlink;
    private DesiredTable desired;
    private Table kernel = new Table();
    private boolean kernelHasTable;
    /** True until a sync succeeded, and again after any failure: the kernel state is then unknown. */
    private boolean needRead = true;

    /** A prepared sync: the delta, and whether it compared everything. */
    record Prepared(FamilySync family, Delta delta, boolean full, boolean readKernel, int servicePortsWritten) {
    }

    /** @param netlink reads the kernel back quickly; null to read through {@code nft -j list} */
    FamilySync(NftOptions options, Nft nft, NetlinkTables netlink) {
        this.options = options;
        this.ruleset = new Ruleset(options);
        this.nft = nft;
        this.netlink = netlink;
    }

    IpFamily family() {
        return options.family();
    }

    NftOptions options() {
        return options;
    }

    /** Forces the next sync to read the kernel back and compare everything. */
    void invalidate() {
        needRead = true;
    }

    /**
     * Computes what the kernel needs. Reads the kernel back when {@code full} is asked, the last
     * sync failed, or this is the first sync; recomputes every service port when the node changed.
     */
    Prepared prepare(ProxyState state, ChangeSet changes, boolean full) throws SyncException {
        boolean readKernel = full || needRead;
        boolean rebuild = readKernel || desired == null || changes.nodeChanged();
        int written;
        DesiredTable.Touched touched;
        if (rebuild) {
            desired = build(ruleset, state);
            desired.drainTouched();
            touched = null;
            written = desired.servicePorts();
            if (readKernel) {
                readKernel();
            }
        } else {
            NodeInfo node = state.node();
            written = 0;
            for (ServicePortName name : changes.servicePorts()) {
                ServicePort svc = state.services().get(name);
                Contribution c = svc == null ? null : ruleset.servicePort(svc, state.endpointsOf(name), node);
                if (c != null || desired.hasService(name)) {
                    written++;
                }
                desired.putService(name, c);
            }
            touched = desired.drainTouched();
        }
        Delta delta = Delta.between(kernel, kernelHasTable, desired.table(), touched, readKernel);
        return new Prepared(this, delta, rebuild, readKernel, written);
    }

    /** The kernel took the prepared delta. */
    void commit(Prepared p) {
        p.delta().applyTo(kernel, desired.table());
        kernelHasTable = true;
        needRead = false;
    }

    /** The sets the table wants, by name. */
    Map<String, SetDef> desiredSets() {
        return desired.table().sets;
    }

    /** Whether a set's elements may travel through netlink (a plain set the table wants). */
    boolean plain(String set) {
        SetDef def = desired.table().sets.get(set);
        return def != null && ElementCodec.supported(def);
    }

    int noLocalInternal() {
        return desired == null ? 0 : desired.noLocalInternal();
    }

    int noLocalExternal() {
        return desired == null ? 0 : desired.noLocalExternal();
    }

    int elements() {
        return kernel.elementCount();
    }

    int chains() {
        return kernel.chains.size();
    }

    /** The script that creates this family's table for {@code state} from nothing, sorted. */
    String renderFull(ProxyState state) {
        DesiredTable d = build(ruleset, state);
        return Delta.between(new Table(), false, d.table(), null, false).script(options.tableRef(), true);
    }

    static DesiredTable build(Ruleset ruleset, ProxyState state) {
        DesiredTable d = new DesiredTable(ruleset);
        d.tracking(false);
        NodeInfo node = state.node();
        d.putStatic(ruleset.staticPart(node));
        // What each service port adds is a pure function of it: computed on every core, added in one thread.
        List<Map.Entry<ServicePortName, ServicePort>> entries = new ArrayList<>(state.services().entrySet());
        Contribution[] contributions = new Contribution[entries.size()];
        IntStream.range(0, entries.size()).parallel().forEach(i -> {
            Map.Entry<ServicePortName, ServicePort> e = entries.get(i);
            contributions[i] = ruleset.servicePort(e.getValue(), state.endpointsOf(e.getKey()), node);
        });
        for (int i = 0; i < contributions.length; i++) {
            if (contributions[i] != null) {
                d.putService(entries.get(i).getKey(), contributions[i]);
            }
        }
        d.tracking(true);
        return d;
    }

    /**
     * Reads the table back and lists what differs from what the last sync wrote: sets, chains (by
     * rule count) and elements. Anything found makes the next sync read back and compare everything,
     * which repairs it. Nothing is checked while that is due anyway.
     */
    DriftReport checkDrift() throws SyncException {
        if (needRead || desired == null) {
            return DriftReport.NONE;
        }
        Table want = desired.table();
        Table actual = read(want.sets);
        String f = options.family() + " ";
        List<String> missing = new ArrayList<>();
        List<String> modified = new ArrayList<>();
        if (actual == null) {
            missing.add(f + "table " + options.tableRef());
        } else {
            for (Map.Entry<String, SetDef> e : want.sets.entrySet()) {
                String name = e.getKey();
                SetDef def = e.getValue();
                if (!actual.sets.containsKey(name)) {
                    missing.add(f + def.kind() + " " + name);
                } else if (!actual.declares(name, def)) {
                    modified.add(f + def.kind() + " " + name + " (declared otherwise)");
                } else if (!def.dynamic() && !actual.unknown.contains(name)) {
                    int differ = differing(want.elements.getOrDefault(name, Map.of()),
                            actual.elements.getOrDefault(name, Map.of()));
                    if (differ > 0) {
                        modified.add(f + def.kind() + " " + name + " (" + differ + " element(s))");
                    }
                }
            }
            for (String name : actual.sets.keySet()) {
                if (!want.sets.containsKey(name)) {
                    modified.add(f + "set " + name + " (not written by Pointsman)");
                }
            }
            for (Map.Entry<String, ChainDef> e : want.chains.entrySet()) {
                ChainDef have = actual.chains.get(e.getKey());
                if (have == null) {
                    missing.add(f + "chain " + e.getKey());
                } else if (have.rules().size() != e.getValue().rules().size()) {
                    modified.add(f + "chain " + e.getKey() + " (" + have.rules().size() + " rules, "
                            + e.getValue().rules().size() + " written)");
                }
            }
            for (String name : actual.chains.keySet()) {
                if (!want.chains.containsKey(name)) {
                    modified.add(f + "chain " + name + " (not written by Pointsman)");
                }
            }
        }
        DriftReport report = new DriftReport(missing, modified);
        if (!report.isEmpty()) {
            needRead = true;
        }
        return report;
    }

    /** Keys present in one map only, or with different values. */
    private static int differing(Map<String, String> a, Map<String, String> b) {
        int n = 0;
        for (Map.Entry<String, String> e : a.entrySet()) {
            if (!e.getValue().equals(b.get(e.getKey()))) {
                n++;
            }
        }
        for (String k : b.keySet()) {
            if (!a.containsKey(k)) {
                n++;
            }
        }
        return n;
    }

    /** The table as the kernel holds it (null when there is none): through netlink, else nft. */
    private Table read(Map<String, SetDef> wanted) throws SyncException {
        if (netlink != null) {
            try {
                return netlink.read(options.family(), options.table(), wanted);
            } catch (io.pointsman.nftables.netlink.NetlinkException e) {
                log.warn("{}: reading table {} through netlink failed, reading it with nft instead: {}",
                        options.family(), options.tableRef(), e.getMessage());
            }
        }
        String json;
        try {
            json = nft.listJson(List.of("table", options.ip(), options.table()));
        } catch (NftException e) {
            throw new SyncException(options.family() + ": cannot read table " + options.tableRef() + " back: "
                    + e.getMessage(), e);
        }
        if (json == null) {
            return null;
        }
        try {
            return KernelReader.parse(json);
        } catch (IllegalArgumentException e) {
            throw new SyncException(options.family() + ": cannot understand table " + options.tableRef() + ": "
                    + e.getMessage(), e);
        }
    }

    private void readKernel() throws SyncException {
        Table t;
        try {
            t = read(desired.table().sets);
        } catch (SyncException e) {
            needRead = true;
            throw new SyncException(e.getMessage() + "; nothing was written", e);
        }
        kernel = t == null ? new Table() : t;
        kernelHasTable = t != null;
    }
}
