package io.pointsman.nftables;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * One chain and its rules.
 *
 * @param base the base-chain declaration ("type nat hook prerouting priority dstnat ;"), or
 *        null for a regular chain
 * @param rules the rule texts, in order, as {@code add rule} takes them after the chain name
 */
record ChainDef(String name, String base, List<String> rules) {

    ChainDef {
        requireNonNull(name, "name");
        rules = List.copyOf(rules);
    }

    /** Whether a rule of this chain jumps or goes to another chain. */
    boolean callsOtherChains() {
        for (String r : rules) {
            if (r.contains("goto ") || r.contains("jump ")) {
                return true;
            }
        }
        return false;
    }

    /** Whether a rule of this chain refers to set {@code set}. */
    boolean uses(String set) {
        String ref = "@" + set;
        for (String r : rules) {
            int i = r.indexOf(ref);
            while (i >= 0) {
                int end = i + ref.length();
                if (end == r.length() || r.charAt(end) == ' ' || r.charAt(end) == '}') {
                    return true;
                }
                i = r.indexOf(ref, end);
            }
        }
        return false;
    }
}
