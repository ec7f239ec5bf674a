package io.pointsman.nftables;

import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
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

    private void readKernel() throws SyncException {
        if (netlink != null) {
            try {
                Table t = netlink.read(options.family(), options.table(), desired.table().sets);
                kernel = t == null ? new Table() : t;
                kernelHasTable = t != null;
                return;
            } catch (io.pointsman.nftables.netlink.NetlinkException e) {
                log.warn("{}: reading table {} through netlink failed, reading it with nft instead: {}",
                        options.family(), options.tableRef(), e.getMessage());
            }
        }
        String json;
        try {
            json = nft.listJson(List.of("table", options.ip(), options.table()));
        } catch (NftException e) {
            needRead = true;
            throw new SyncException(options.family() + ": cannot read table " + options.tableRef() + " back: "
                    + e.getMessage() + "; nothing was written", e);
        }
        if (json == null) {
            kernel = new Table();
            kernelHasTable = false;
            return;
        }
        try {
            kernel = KernelReader.parse(json);
        } catch (IllegalArgumentException e) {
            needRead = true;
            throw new SyncException(options.family() + ": cannot understand table " + options.tableRef() + ": "
                    + e.getMessage() + "; nothing was written", e);
        }
        kernelHasTable = true;
    }
}
