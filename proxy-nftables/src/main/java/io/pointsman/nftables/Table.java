package io.pointsman.nftables;

import java.util.HashMap;
import java.util.Map;

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
    /** Rule counts per chain, when read from the kernel (whose rule texts are not compared). */
    final Map<String, Integer> ruleCounts = new HashMap<>();

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
