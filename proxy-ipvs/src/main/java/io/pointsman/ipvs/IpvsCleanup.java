package io.pointsman.ipvs;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.model.IpFamily;
import io.pointsman.ipvs.kernel.IpvsClient;
import io.pointsman.ipvs.kernel.LinkClient;
import io.pointsman.ipvs.kernel.VirtualServer;
import io.pointsman.ipvs.netlink.NetlinkException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --cleanup} for the IPVS mode: deletes every IPVS virtual service outside
 * --ipvs-exclude-cidrs, the kube-ipvs0 interface, the IPVS mode's iptables chains (and the jumps
 * to them) and its ipsets.
 */
public final class IpvsCleanup {
    private static final Logger log = LoggerFactory.getLogger(IpvsCleanup.class);

    private IpvsCleanup() {
    }

    /** @return whether anything failed to be removed */
    public static boolean run(Netfilter netfilter, IpsetDoor ipsets, IpvsSettings settings) {
        boolean failed = false;
        try (IpvsClient ipvs = IpvsClient.open()) {
            int deleted = 0;
            for (VirtualServer vs : ipvs.services()) {
                if (settings.excluded(vs.key().address())) {
                    continue;
                }
                try {
                    ipvs.deleteService(vs.key());
                    deleted++;
                } catch (NetlinkException e) {
                    failed = true;
                    log.warn("cleanup: {}", e.getMessage());
                }
            }
            log.info("cleanup: deleted {} IPVS virtual services", deleted);
        } catch (NetlinkException e) {
            log.info("cleanup: no IPVS to clean ({})", e.getMessage());
        }
        try (LinkClient links = LinkClient.open()) {
            int index = links.linkIndex(IpvsSettings.DUMMY_INTERFACE);
            if (index > 0) {
                links.deleteLink(IpvsSettings.DUMMY_INTERFACE, index);
                log.info("cleanup: deleted interface {}", IpvsSettings.DUMMY_INTERFACE);
            }
        } catch (NetlinkException e) {
            failed = true;
            log.warn("cleanup: {}", e.getMessage());
        }
        return removeRulesAndSets(netfilter, ipsets) | failed;
    }

    /** The iptables and ipset half of the cleanup; @return whether anything failed to be removed. */
    public static boolean removeRulesAndSets(Netfilter netfilter, IpsetDoor ipsets) {
        boolean failed = false;
        for (IpFamily family : IpFamily.values()) {
            for (String table : List.of("nat", "filter")) {
                failed |= !cleanTable(netfilter, family, table);
            }
        }
        try {
            Map<String, IpsetSync.SavedSet> saved = IpsetSync.parse(ipsets.save());
            StringBuilder script = new StringBuilder();
            for (String name : IpsetSpec.allNames()) {
                if (saved.containsKey(name)) {
                    script.append("flush ").append(name).append('\n').append("destroy ").append(name).append('\n');
                }
            }
            if (script.length() > 0) {
                ipsets.restore(script.toString());
                log.info("cleanup: destroyed the IPVS mode's ipsets");
            }
        } catch (IpsetException e) {
            failed = true;
            log.warn("cleanup: ipsets kept: {}", e.getMessage());
        }
        return failed;
    }

    private static boolean cleanTable(Netfilter netfilter, IpFamily family, String table) {
        String saved;
        try {
            saved = netfilter.save(family, table);
        } catch (RestoreException e) {
            if (e.getCause() instanceof IOException) {
                return true; // no ip6tables here: nothing of that family was written
            }
            log.warn("cleanup: cannot read {} table {}: {}", family, table, e.getMessage());
            return false;
        }
        String payload = payload(table, saved);
        if (payload == null) {
            return true;
        }
        try {
            netfilter.restore(family, payload);
            log.info("cleanup: removed the IPVS mode's chains from {} table {}", family, table);
            return true;
        } catch (RestoreException e) {
            log.warn("cleanup: {} table {} kept its chains: {}", family, table, e.getMessage());
            return false;
        }
    }

    /**
     * The restore text flushing and deleting our chains of {@code table} and the rules of other
     * chains that jump to them; null when none is present.
     */
    static String payload(String table, String saved) {
        List<String> ours = table.equals("nat") ? IpvsRules.NAT_CHAINS : IpvsRules.FILTER_CHAINS;
        Set<String> present = new LinkedHashSet<>();
        List<String> unlink = new ArrayList<>();
        for (String line : saved.split("\n")) {
            if (line.startsWith(":")) {
                String chain = line.substring(1, line.indexOf(' ') > 0 ? line.indexOf(' ') : line.length());
                if (ours.contains(chain)) {
                    present.add(chain);
                }
            } else if (line.startsWith("-A ")) {
                String[] t = line.split(" ");
                String chain = t[1];
                String target = "";
                for (int i = 2; i + 1 < t.length; i++) {
                    if (t[i].equals("-j") || t[i].equals("-g")) {
                        target = t[i + 1];
                    }
                }
                if (ours.contains(target) && !ours.contains(chain)) {
                    unlink.add("-D " + line.substring(3));
                }
            }
        }
        if (present.isEmpty() && unlink.isEmpty()) {
            return null;
        }
        StringBuilder b = new StringBuilder("*").append(table).append('\n');
        for (String c : present) {
            b.append(':').append(c).append(" - [0:0]\n");
        }
        unlink.forEach(l -> b.append(l).append('\n'));
        for (String c : present) {
            b.append("-X ").append(c).append('\n');
        }
        return b.append("COMMIT\n").toString();
    }
}
