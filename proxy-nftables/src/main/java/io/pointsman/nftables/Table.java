package io.pointsman.nftables;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The contents of one nftables table as data: set declarations with their elements, and chains
 * with their rules. Used for what a sync wants and for what the kernel holds. Element keys and
 * values are nft's own text ("10.0.0.1 . tcp . 80", "goto lb-2"), in the canonical form this
 * backend writes and {@link KernelReader} normalises to; a set's value is "".
 */
final class Table {
    final Map<String, SetDef> sets = new HashMap<>();
    final Map<String, Map<String, String>> elements = new HashMap<>();
    final Map<String, ChainDef> chains = new HashMap<>();
    /** Set signatures as read from the kernel (see {@link SetDef#signature()}), where they override the declaration. */
    final Map<String, String> signatures = new HashMap<>();

    /** Sets whose elements were not read back (interval sets read through netlink): flushed and refilled. */
    final Set<String> unknown = new HashSet<>();

    /**
     * Whether the kernel's declaration of {@code set} is {@code want}'s, in the form it was read:
     * nft's JSON, netlink's attributes, or (no read) this model's own declaration.
     */
    boolean declares(String set, SetDef want) {
        String s = signatures.get(set);
        if (s == null) {
            return want.signature().equals(sets.get(set).signature());
        }
        return s.startsWith("nl ") ? s.equals(NetlinkTables.signature(want)) : s.equals(want.signature());
    }

    Map<String, String> elementsOf(String set) {
        return elements.computeIfAbsent(set, s -> new HashMap<>());
    }

    int elementCount() {
        int n = 0;
        for (Map<String, String> m : elements.values()) {
            n += m.size();
        }
        return n;
    }
}
