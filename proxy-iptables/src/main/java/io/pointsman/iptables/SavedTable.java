package io.pointsman.iptables;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One table as {@code iptables-save -t TABLE} prints it: the chains and the rule lines.
 *
 * @param chains every chain declared, built-in ones included, in the order printed
 * @param builtinChains the chains with a policy (INPUT, PREROUTING, ...)
 * @param rules the "-A CHAIN ..." lines, as printed
 */
record SavedTable(Set<String> chains, Set<String> builtinChains, List<String> rules) {

    SavedTable {
        // Kept in save order, so what is derived from them (cleanup payloads) is deterministic.
        chains = Collections.unmodifiableSet(new LinkedHashSet<>(chains));
        builtinChains = Collections.unmodifiableSet(new LinkedHashSet<>(builtinChains));
        rules = List.copyOf(rules);
    }

    static final SavedTable EMPTY = new SavedTable(Set.of(), Set.of(), List.of());

    /** Parses save output; comments, table headers and COMMIT are skipped. */
    static SavedTable parse(String save) {
        Set<String> chains = new LinkedHashSet<>();
        Set<String> builtin = new LinkedHashSet<>();
        List<String> rules = new ArrayList<>();
        int start = 0;
        int len = save.length();
        while (start < len) {
            int end = save.indexOf('\n', start);
            if (end < 0) {
                end = len;
            }
            String line = save.substring(start, end).strip();
            start = end + 1;
            if (line.startsWith(":")) {
                int sp = line.indexOf(' ');
                String name = sp < 0 ? line.substring(1) : line.substring(1, sp);
                chains.add(name);
                // User chains print "-" where built-in chains print their policy.
                if (sp > 0 && !line.startsWith("- ", sp + 1)) {
                    builtin.add(name);
                }
            } else if (line.startsWith("-A ")) {
                rules.add(line);
            }
        }
        return new SavedTable(chains, builtin, rules);
    }

    /**
     * Like {@link #parse}, but keeps only the rules of built-in chains: all a sync needs (the
     * jumps into our chains), at a fraction of the cost for a table of a big cluster.
     */
    static SavedTable parseBuiltinRules(String save) {
        Set<String> chains = new LinkedHashSet<>();
        Set<String> builtin = new LinkedHashSet<>();
        List<String> rules = new ArrayList<>();
        int start = 0;
        int len = save.length();
        while (start < len) {
            int end = save.indexOf('\n', start);
            if (end < 0) {
                end = len;
            }
            if (end > start) {
                char first = save.charAt(start);
                if (first == ':') {
                    int sp = save.indexOf(' ', start);
                    boolean hasPolicy = sp > 0 && sp < end;
                    String name = save.substring(start + 1, hasPolicy ? sp : end).strip();
                    chains.add(name);
                    if (hasPolicy && !save.startsWith("- ", sp + 1)) {
                        builtin.add(name);
                    }
                } else if (first == '-' && save.startsWith("-A ", start) && isRuleOf(save, start + 3, builtin)) {
                    rules.add(save.substring(start, end).strip());
                }
            }
            start = end + 1;
        }
        return new SavedTable(chains, builtin, rules);
    }

    /** Whether the chain name at {@code save[from]} is one of {@code chains}, without copying it. */
    private static boolean isRuleOf(String save, int from, Set<String> chains) {
        for (String c : chains) {
            int after = from + c.length();
            if (save.startsWith(c, from) && after < save.length() && save.charAt(after) == ' ') {
                return true;
            }
        }
        return false;
    }

    /** The chain a rule line appends to ("-A CHAIN ..."). */
    static String chainOf(String rule) {
        int sp = rule.indexOf(' ', 3);
        return sp < 0 ? rule.substring(3) : rule.substring(3, sp);
    }

    /** The jump target of a rule line, "" when it has none. */
    static String targetOf(String rule) {
        int j = rule.lastIndexOf(" -j ");
        if (j < 0) {
            j = rule.lastIndexOf(" -g ");
        }
        if (j < 0) {
            return "";
        }
        int from = j + 4;
        int sp = rule.indexOf(' ', from);
        return sp < 0 ? rule.substring(from) : rule.substring(from, sp);
    }
}
