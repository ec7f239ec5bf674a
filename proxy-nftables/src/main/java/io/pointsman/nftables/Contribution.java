package io.pointsman.nftables;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * What one service port (or the node and configuration, for the static part) adds to the
 * table: map and set elements, its own sets and chains (ClientIP affinity only), and the
 * shared load-balancing chains it sends traffic to.
 *
 * @param chainRefs names of shared {@code lb-K} style chains this contribution uses; such a chain
 *        exists while any contribution uses it
 * @param noLocalInternal 1 when internalTrafficPolicy is Local and endpoints exist, none local
 * @param noLocalExternal 1 when externalTrafficPolicy is Local and endpoints exist, none local
 */
record Contribution(List<Element> elements, List<SetDef> sets, List<ChainDef> chains, List<String> chainRefs,
                    int noLocalInternal, int noLocalExternal) {

    static final Contribution NONE = new Contribution(List.of(), List.of(), List.of(), List.of(), 0, 0);

    Contribution {
        elements = List.copyOf(elements);
        sets = List.copyOf(sets);
        chains = List.copyOf(chains);
        chainRefs = List.copyOf(chainRefs);
    }

    /** One element of a set ({@code value} "") or map. */
    record Element(String set, String key, String value) {
        Element {
            requireNonNull(set, "set");
            requireNonNull(key, "key");
            requireNonNull(value, "value");
        }
    }
}
