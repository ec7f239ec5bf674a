package io.pointsman.nftables;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nftables mode: Pointsman's own tables {@code ip pointsman} and {@code ip6 pointsman}, with
 * O(1) dispatch through verdict maps and load balancing through a {@code backends} map (see
 * {@link Ruleset}). Every sync is one {@code nft -f} transaction holding, for every family, only
 * the element and rule changes since the last sync.
 */
public final class NftablesBackend implements ProxyBackend {
    public static final String MODE = "nftables";
    private static final Logger log = LoggerFactory.getLogger(NftablesBackend.class);

    private final ProxyConfig config;
    private final ProxyMetrics metrics;
    private final Nft nft;
    private final Runnable enableRouteLocalnet;
    private final NetlinkTables netlink;
    private final Map<IpFamily, FamilySync> families = new EnumMap<>(IpFamily.class);
    private final Map<IpFamily, AtomicLong> elementGauges = new EnumMap<>(IpFamily.class);
    private boolean routeLocalnetDone;
    private boolean firstSync = true;

    /**
     * @param enableRouteLocalnet sets net.ipv4.conf.all.route_localnet=1 in the namespace {@code nft}
     *        writes to (for localhost NodePorts); run once, before the first sync
     */
    public NftablesBackend(ProxyConfig config, ProxyMetrics metrics, Nft nft, Runnable enableRouteLocalnet) {
        this(config, metrics, nft, null, enableRouteLocalnet);
    }

    /**
     * A backend that writes structure through {@code nft} and element changes through netfilter's
     * netlink socket, opened in /run/netns/NETNS ({@code netns} non-null) or this process's
     * namespace. Without that socket (no jnr-ffi native support, no permission) everything goes
     * through {@code nft}, slower at scale; a dry-run door never opens it.
     */
    public static NftablesBackend create(ProxyConfig config, ProxyMetrics metrics, Nft nft, String netns,
                                         Runnable enableRouteLocalnet) {
        NetlinkTables netlink = null;
        if (!nft.dryRun()) {
            try {
                netlink = NetlinkTables.open(netns);
            } catch (io.pointsman.nftables.netlink.NetlinkException | RuntimeException | LinkageError e) {
                log.warn("netfilter netlink unavailable, every change goes through nft (slower at scale): {}",
                        e.getMessage());
            }
        }
        return new NftablesBackend(config, metrics, nft, netlink, enableRouteLocalnet);
    }

    /**
     * @param netlink writes element changes and reads the tables back without {@code nft}; null to
     *        do everything through {@code nft}. Owned by the backend from here on (closed with it).
     */
    NftablesBackend(ProxyConfig config, ProxyMetrics metrics, Nft nft, NetlinkTables netlink,
                    Runnable enableRouteLocalnet) {
        this.config = requireNonNull(config, "config");
        this.metrics = requireNonNull(metrics, "metrics");
        this.nft = requireNonNull(nft, "nft");
        this.netlink = netlink;
        this.enableRouteLocalnet = requireNonNull(enableRouteLocalnet, "enableRouteLocalnet");
        families.put(IpFamily.IPv4, new FamilySync(NftOptions.from(config, IpFamily.IPv4), nft, netlink));
    }

    @Override
    public String mode() {
        return MODE;
    }

    @Override
    public SyncResult sync(ProxyState state, ChangeSet changes, boolean full) throws SyncException {
        requireNonNull(state, "state");
        requireNonNull(changes, "changes");
        long t0 = System.nanoTime();
        // Scanning every Service for IPv6 costs O(N): only a full sync or a node change does it.
        if (!families.containsKey(IpFamily.IPv6) && (full || changes.nodeChanged() || firstSync
                ? usesIPv6(state, config) : usesIPv6(state, changes))) {
            families.put(IpFamily.IPv6, new FamilySync(NftOptions.from(config, IpFamily.IPv6), nft, netlink));
        }
        if (!routeLocalnetDone && families.get(IpFamily.IPv4).options().localhostNodePorts()) {
            enableRouteLocalnet.run();
            routeLocalnetDone = true;
        }
        List<FamilySync.Prepared> prepared = new ArrayList<>();
        try {
            for (FamilySync f : families.values()) {
                prepared.add(f.prepare(state, changes, full));
            }
        } catch (SyncException | RuntimeException e) {
            fail();
            throw e;
        }
        long t1 = System.nanoTime();
        Path path = path(prepared);
        StringBuilder script = new StringBuilder();
        if (path != Path.NETLINK) {
            for (FamilySync.Prepared p : prepared) {
                FamilySync f = p.family();
                p.delta().write(script, f.options().tableRef(), false, path == Path.SPLIT ? f::plain : set -> false);
            }
        }
        long t2 = System.nanoTime();
        long t3 = t2;
        try {
            if (script.length() > 0) {
                nft.apply(script.toString());
            }
            t3 = System.nanoTime();
            if (path != Path.NFT) {
                List<NetlinkTables.ElementChanges> elementChanges = new ArrayList<>();
                for (FamilySync.Prepared p : prepared) {
                    FamilySync f = p.family();
                    Map<String, List<String>> deletes = new LinkedHashMap<>(p.delta().deleteElements);
                    Map<String, Map<String, String>> adds = new LinkedHashMap<>(p.delta().addElements);
                    deletes.keySet().removeIf(set -> !f.plain(set));
                    adds.keySet().removeIf(set -> !f.plain(set));
                    elementChanges.add(new NetlinkTables.ElementChanges(f.family(), f.options().table(), f.desiredSets(),
                            deletes, adds));
                }
                netlink.apply(elementChanges);
            }
        } catch (NftException e) {
            fail();
            throw new SyncException("nft transaction refused, the kernel keeps its previous rules;"
                    + " the next sync reads the tables back and compares everything: " + e.getMessage(), e);
        } catch (io.pointsman.nftables.netlink.NetlinkException e) {
            fail();
            throw new SyncException("netlink transaction of element changes refused"
                    + (path == Path.SPLIT ? " (after the structure was written)" : ", the kernel keeps its previous rules")
                    + "; the next sync reads the tables back and compares everything: " + e.getMessage(), e);
        }
        Map<String, Long> counts = new LinkedHashMap<>();
        int written = 0;
        boolean prefix = families.size() > 1;
        for (FamilySync.Prepared p : prepared) {
            FamilySync f = p.family();
            f.commit(p);
            written = Math.max(written, p.servicePortsWritten());
            IpFamily family = f.family();
            metrics.noLocalEndpoints("internal", family, f.noLocalInternal());
            metrics.noLocalEndpoints("external", family, f.noLocalExternal());
            elementGauge(family).set(f.elements());
            String k = prefix ? family.name() + "." : "";
            Delta d = p.delta();
            counts.put(k + "readBack", p.readKernel() ? 1L : 0L);
            counts.put(k + "elementsAdded", (long) d.elementsAdded());
            counts.put(k + "elementsDeleted", (long) d.elementsDeleted());
            counts.put(k + "rulesWritten", (long) d.rulesWritten());
            counts.put(k + "elements", (long) f.elements());
            counts.put(k + "chains", (long) f.chains());
        }
        long t4 = System.nanoTime();
        firstSync = false;
        counts.put("scriptBytes", (long) script.length());
        counts.put("netlink", path == Path.NFT ? 0L : 1L);
        counts.put("prepareMs", (t1 - t0) / 1_000_000);
        counts.put("nftMs", (t3 - t2) / 1_000_000);
        counts.put("netlinkMs", (t4 - t3) / 1_000_000);
        if (log.isDebugEnabled()) {
            log.debug("nft transaction of {} bytes applied", script.length());
        }
        return new SyncResult(written, counts);
    }

    /**
     * Reads every family's table back and lists what differs from what the last sync wrote; the
     * next sync then reads back and repairs it (one transaction). Costs one netlink dump of the
     * table: a few hundred milliseconds at 10,000 Services.
     */
    @Override
    public DriftReport checkDrift() throws SyncException {
        DriftReport report = DriftReport.NONE;
        for (FamilySync f : families.values()) {
            report = report.plus(f.checkDrift());
        }
        return report;
    }

    /** How a sync reaches the kernel. */
    private enum Path {
        /** One nft transaction. */
        NFT,
        /** Element changes only: one netlink transaction. */
        NETLINK,
        /** Many elements into new structure (a first sync): nft for the structure, then netlink for the elements. */
        SPLIT
    }

    /** Below this many new elements an nft process is cheaper than splitting a sync in two transactions. */
    private static final int SPLIT_MIN_ELEMENTS = 2000;

    private Path path(List<FamilySync.Prepared> prepared) {
        if (netlink == null) {
            return Path.NFT;
        }
        boolean elementsOnly = true;
        boolean onlyAdds = true;
        int added = 0;
        for (FamilySync.Prepared p : prepared) {
            elementsOnly &= p.delta().onlyElementsOf(p.family()::plain);
            onlyAdds &= p.delta().onlyAdds();
            added += p.delta().elementsAdded();
        }
        if (elementsOnly) {
            return Path.NETLINK;
        }
        return onlyAdds && added >= SPLIT_MIN_ELEMENTS ? Path.SPLIT : Path.NFT;
    }

    private void fail() {
        families.values().forEach(FamilySync::invalidate);
        for (FamilySync f : families.values()) {
            metrics.nftablesSyncFailure(f.family());
        }
    }

    @Override
    public void close() {
        if (netlink != null) {
            netlink.close();
        }
    }

    private AtomicLong elementGauge(IpFamily family) {
        return elementGauges.computeIfAbsent(family, f -> metrics.gauge("pointsman_nftables_elements",
                "Set and map elements Pointsman holds in its nftables table", Map.of("ip_family", f.name())));
    }

    /**
     * The nft script that creates the IPv4 table for {@code state} from nothing and, when the state
     * uses IPv6, the IPv6 table after it: a valid input for {@code nft -f}. Touches nothing.
     */
    @Override
    public String renderFullSync(ProxyState state) {
        StringBuilder out = new StringBuilder(new FamilySync(NftOptions.from(config, IpFamily.IPv4), nft, null)
                .renderFull(state));
        if (usesIPv6(state, config)) {
            out.append(new FamilySync(NftOptions.from(config, IpFamily.IPv6), nft, null).renderFull(state));
        }
        return out.toString();
    }

    /** Whether a changed Service has an IPv6 cluster IP. */
    private static boolean usesIPv6(ProxyState state, ChangeSet changes) {
        for (var name : changes.servicePorts()) {
            ServicePort svc = state.services().get(name);
            if (svc != null && svc.clusterIP(IpFamily.IPv6) != null) {
                return true;
            }
        }
        return false;
    }

    /** Whether any Service cluster IP, node address or cluster CIDR is IPv6. */
    static boolean usesIPv6(ProxyState state, ProxyConfig config) {
        for (String cidr : config.clusterCIDRs()) {
            if (IpAddresses.familyOf(cidr) == IpFamily.IPv6) {
                return true;
            }
        }
        if (!state.node().addresses(IpFamily.IPv6).isEmpty()) {
            return true;
        }
        for (ServicePort svc : state.services().values()) {
            if (svc.clusterIP(IpFamily.IPv6) != null) {
                return true;
            }
        }
        return false;
    }
}
