package io.pointsman.iptables;

import io.pointsman.core.linux.Netfilter;
import io.pointsman.core.linux.RestoreException;
import io.pointsman.core.model.IpFamily;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --cleanup} for the iptables mode: removes the jumps from built-in chains into KUBE-*
 * chains and flushes and deletes every KUBE-* chain of filter, nat and mangle, both families,
 * reading the tables with iptables-save and writing one restore payload per table.
 */
final class IptablesCleanup {
    private static final Logger log = LoggerFactory.getLogger(IptablesCleanup.class);
    private static final List<String> TABLES = List.of("filter", "nat", "mangle");

    private IptablesCleanup() {
    }

    /** @return whether anything failed to be removed */
    static boolean run(Netfilter netfilter) {
        boolean failed = false;
        for (IpFamily family : IpFamily.values()) {
            for (String table : TABLES) {
                failed |= !cleanTable(netfilter, family, table);
            }
        }
        return failed;
    }

    private static boolean cleanTable(Netfilter netfilter, IpFamily family, String table) {
        SavedTable saved;
        try {
            saved = SavedTable.parse(netfilter.save(family, table));
        } catch (RestoreException e) {
            if (e.getCause() instanceof IOException) {
                // No ip6tables on this host: nothing of that family can have been written.
                log.info("cleanup: skipping {} table {}: {}", family, table, e.getMessage());
                return true;
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
            log.info("cleanup: removed KUBE-* chains and jumps from {} table {}", family, table);
            return true;
        } catch (RestoreException e) {
            log.warn("cleanup: {} table {} kept its KUBE-* chains: {}", family, table, e.getMessage());
            return false;
        }
    }

    /** The restore text that removes our jumps and chains from one table, null when there are none. */
    static String payload(String table, SavedTable saved) {
        Set<String> ours = new LinkedHashSet<>();
        for (String chain : saved.chains()) {
            if (chain.startsWith("KUBE-") && !saved.builtinChains().contains(chain)) {
                ours.add(chain);
            }
        }
        // A KUBE-* chain another program's chain jumps to cannot be deleted; leave it, and what it reaches.
        Set<String> keep = new LinkedHashSet<>();
        Deque<String> todo = new ArrayDeque<>();
        for (String rule : saved.rules()) {
            String chain = SavedTable.chainOf(rule);
            String target = SavedTable.targetOf(rule);
            if (ours.contains(target) && !ours.contains(chain) && !saved.builtinChains().contains(chain)) {
                todo.add(target);
            }
        }
        while (!todo.isEmpty()) {
            String chain = todo.poll();
            if (keep.add(chain)) {
                for (String rule : saved.rules()) {
                    String target = SavedTable.targetOf(rule);
                    if (SavedTable.chainOf(rule).equals(chain) && ours.contains(target)) {
                        todo.add(target);
                    }
                }
            }
        }
        if (!keep.isEmpty()) {
            log.warn("cleanup: table {} keeps {}: other chains jump to them", table, keep);
        }
        ours.removeAll(keep);

        List<String> unlink = new ArrayList<>();
        for (String rule : saved.rules()) {
            if (saved.builtinChains().contains(SavedTable.chainOf(rule)) && ours.contains(SavedTable.targetOf(rule))) {
                unlink.add("-D " + rule.substring(3));
            }
        }
        if (ours.isEmpty() && unlink.isEmpty()) {
            return null;
        }
        StringBuilder b = new StringBuilder("*").append(table).append('\n');
        for (String chain : ours) {
            b.append(':').append(chain).append(" - [0:0]\n"); // flushes it
        }
        for (String line : unlink) {
            b.append(line).append('\n');
        }
        for (String chain : ours) {
            b.append("-X ").append(chain).append('\n');
        }
        return b.append("COMMIT\n").toString();
    }
}
