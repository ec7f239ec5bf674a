package io.pointsman.iptables;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.config.ProxyConfig;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.spi.BackendContext;
import io.pointsman.core.spi.DriftReport;
import io.pointsman.core.spi.ProxyBackend;
import io.pointsman.core.spi.SyncException;
import io.pointsman.core.spi.SyncResult;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The iptables mode: upstream kube-proxy's rule layout, applied with {@code iptables-restore
 * --noflush}. One {@link FamilySync} per IP family: IPv4 always, IPv6 from the first state or
 * configuration that has IPv6 on (and then for good, so its rules are kept up to date and removed
 * when the last IPv6 Service goes).
 */
public final class IptablesBackend implements ProxyBackend {
    public static final String MODE = "iptables";

    private final BackendContext context;
    private final Map<IpFamily, FamilySync> families = new EnumMap<>(IpFamily.class);

    public IptablesBackend(BackendContext context) {
        this.context = requireNonNull(context, "context");
        families.put(IpFamily.IPv4, newFamily(IpFamily.IPv4));
    }

    @Override
    public String mode() {
        return MODE;
    }

    @Override
    public SyncResult sync(ProxyState state, ChangeSet changes, boolean full) throws SyncException {
        requireNonNull(state, "state");
        requireNonNull(changes, "changes");
        if (!families.containsKey(IpFamily.IPv6) && usesIPv6(state, context.config(), full ? null : changes)) {
            families.put(IpFamily.IPv6, newFamily(IpFamily.IPv6));
        }
        Map<String, Long> counts = new LinkedHashMap<>();
        int written = 0;
        for (FamilySync f : families.values()) {
            if (context.renderOnly()) {
                f.renderFull(state);
                continue;
            }
            FamilySync.Outcome o;
            try {
                o = f.sync(state, changes, full);
            } catch (SyncException e) {
                // The caller treats the changes as consumed: every family must rewrite everything next time.
                families.values().forEach(FamilySync::invalidate);
                throw e;
            }
            written += o.servicePortsWritten();
            String p = families.size() > 1 ? f.family().name() + "." : "";
            counts.put(p + "fullSync", o.full() ? 1L : 0L);
            counts.put(p + "restored", o.restored() ? 1L : 0L);
            counts.put(p + "filterChains", (long) o.filterChains());
            counts.put(p + "filterRules", (long) o.filterRules());
            counts.put(p + "natChains", (long) o.natChains());
            counts.put(p + "natRules", (long) o.natRules());
            counts.put(p + "natRulesTotal", o.natRulesTotal());
            counts.put(p + "deletedChains", (long) o.deletedChains());
        }
        return new SyncResult(written, counts);
    }

    /**
     * Reads back the filter and nat tables of every family synced so far and compares each chain
     * written, and each jump rule into them, with the kernel's copy. The next sync rewrites what
     * drifted (see {@link FamilySync#checkDrift()}).
     */
    @Override
    public DriftReport checkDrift() throws SyncException {
        if (context.renderOnly()) {
            return DriftReport.NONE;
        }
        DriftReport report = DriftReport.NONE;
        for (FamilySync f : families.values()) {
            report = report.plus(f.checkDrift());
        }
        return report;
    }

    /**
     * The IPv4 payload of a full sync; for a state with IPv6, the IPv6 payload follows after a
     * "# IPv6" comment line. No jump rules, no deletions, no kernel access.
     */
    @Override
    public String renderFullSync(ProxyState state) {
        ProxyConfig config = context.config();
        StringBuilder out = new StringBuilder(new FamilySync(RenderOptions.from(config, context.hostFeatures(),
                IpFamily.IPv4), context.netfilter(), context.metrics()).renderFull(state));
        if (usesIPv6(state, config, null)) {
            out.append("# IPv6\n").append(new FamilySync(RenderOptions.from(config, context.hostFeatures(),
                    IpFamily.IPv6), context.netfilter(), context.metrics()).renderFull(state));
        }
        return out.toString();
    }

    private FamilySync newFamily(IpFamily family) {
        return new FamilySync(RenderOptions.from(context.config(), context.hostFeatures(), family),
                context.netfilter(), context.metrics());
    }

    /**
     * Whether any Service cluster IP, node address or cluster CIDR is IPv6 (endpoints alone serve
     * no IPv6 rule). With {@code changes}, only the changed service ports are looked at: the
     * others were when they changed.
     */
    static boolean usesIPv6(ProxyState state, ProxyConfig config, ChangeSet changes) {
        for (String cidr : config.clusterCIDRs()) {
            if (IpAddresses.familyOf(cidr) == IpFamily.IPv6) {
                return true;
            }
        }
        if (!state.node().addresses(IpFamily.IPv6).isEmpty()) {
            return true;
        }
        if (changes != null) {
            for (ServicePortName name : changes.servicePorts()) {
                ServicePort svc = state.services().get(name);
                if (svc != null && svc.clusterIP(IpFamily.IPv6) != null) {
                    return true;
                }
            }
            return false;
        }
        for (ServicePort svc : state.services().values()) {
            if (svc.clusterIP(IpFamily.IPv6) != null) {
                return true;
            }
        }
        return false;
    }
}
