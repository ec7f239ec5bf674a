package io.pointsman.iptables;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Java port of shared/conformance/iptables/normalize.py (upstream's sortIPTablesRules), so unit
 * tests compare restore text the way upstream's tests do without needing python.
 */
final class Normalizer {
    private Normalizer() {
    }

    private static final class Table {
        final List<String> chains = new ArrayList<>();
        final Map<String, List<String>> rules = new LinkedHashMap<>();
        final List<String> deletes = new ArrayList<>();
    }

    /** The key {@link #parse} files a table's "-X CHAIN" lines under. */
    static final String DELETIONS = "-X";

    /**
     * A restore payload as table to chain to rules: every declared chain (rules in order, empty
     * when it has none) and the deletions under {@link #DELETIONS}; jump inserts ("-I") are left out.
     */
    static Map<String, Map<String, List<String>>> parse(String text) {
        Map<String, Map<String, List<String>>> out = new LinkedHashMap<>();
        Map<String, List<String>> current = null;
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith("-I ")) {
                continue;
            }
            if (line.startsWith("*")) {
                current = out.computeIfAbsent(line.substring(1), k -> new java.util.TreeMap<>());
            } else if (current == null) {
                throw new IllegalArgumentException("line outside a table: " + line);
            } else if (line.equals("COMMIT")) {
                current = null;
            } else if (line.startsWith(":")) {
                current.putIfAbsent(line.substring(1).split("\\s+")[0], new ArrayList<>());
            } else if (line.startsWith("-A ")) {
                current.computeIfAbsent(line.split("\\s+")[1], k -> new ArrayList<>()).add(line);
            } else if (line.startsWith("-X ")) {
                current.computeIfAbsent(DELETIONS, k -> new ArrayList<>()).add(line);
                // A deleted chain is declared first (to flush it); that is not a chain written.
                current.remove(line.substring(3));
            } else {
                throw new IllegalArgumentException("unexpected line: " + line);
            }
        }
        return out;
    }

    static String normalize(String text) {
        Map<String, Table> tables = new LinkedHashMap<>();
        Table current = null;
        for (String raw : text.split("\n", -1)) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("*")) {
                current = tables.computeIfAbsent(line.substring(1), k -> new Table());
                continue;
            }
            if (current == null) {
                throw new IllegalArgumentException("line outside a table: " + line);
            }
            if (line.equals("COMMIT")) {
                current = null;
            } else if (line.startsWith(":")) {
                String name = line.substring(1).split("\\s+")[0];
                if (!current.chains.contains(name)) {
                    current.chains.add(name);
                }
            } else if (line.startsWith("-A ")) {
                String name = line.split("\\s+")[1];
                current.rules.computeIfAbsent(name, k -> new ArrayList<>()).add(line);
            } else if (line.startsWith("-X ")) {
                current.deletes.add(line);
            } else {
                throw new IllegalArgumentException("unexpected line: " + line);
            }
        }
        StringBuilder out = new StringBuilder();
        for (String name : new TreeSet<>(tables.keySet())) {
            Table t = tables.get(name);
            TreeSet<String> all = new TreeSet<>(Comparator.comparing(Normalizer::chainRank)
                    .thenComparing(Comparator.naturalOrder()));
            all.addAll(t.chains);
            all.addAll(t.rules.keySet());
            out.append('*').append(name).append('\n');
            for (String c : all) {
                if (t.chains.contains(c)) {
                    out.append(':').append(c).append(" - [0:0]\n");
                }
            }
            for (String c : all) {
                List<String> rules = new ArrayList<>(t.rules.getOrDefault(c, List.of()));
                if (c.equals("KUBE-NODEPORTS") || c.equals("KUBE-SERVICES")) {
                    List<String> last = new ArrayList<>();
                    List<String> rest = new ArrayList<>();
                    for (String r : rules) {
                        (r.contains("must be the last rule") ? last : rest).add(r);
                    }
                    rest.sort(Comparator.comparing(Normalizer::serviceOf));
                    rules = rest;
                    rules.addAll(last);
                }
                rules.forEach(r -> out.append(r).append('\n'));
            }
            t.deletes.forEach(d -> out.append(d).append('\n'));
            out.append("COMMIT\n");
        }
        return out.toString();
    }

    private static int chainRank(String name) {
        if (name.equals("KUBE-NODEPORTS")) {
            return 0;
        }
        if (name.equals("KUBE-SERVICES")) {
            return 1;
        }
        return name.startsWith("KUBE-") ? 2 : 3;
    }

    /** The comment's text up to the first ' ' or ':' (the service's "ns/name"), "" when none. */
    static String serviceOf(String rule) {
        List<String> words = words(rule);
        for (int i = 0; i < words.size() - 1; i++) {
            if (words.get(i).equals("--comment")) {
                String c = words.get(i + 1);
                int end = c.length();
                for (int j = 0; j < c.length(); j++) {
                    if (c.charAt(j) == ' ' || c.charAt(j) == ':') {
                        end = j;
                        break;
                    }
                }
                return c.substring(0, end);
            }
        }
        return "";
    }

    /** Shell-like split honouring double quotes (all that rule text uses). */
    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (ch == '"') {
                quoted = !quoted;
                any = true;
            } else if (ch == ' ' && !quoted) {
                if (any) {
                    out.add(w.toString());
                    w.setLength(0);
                    any = false;
                }
            } else {
                w.append(ch);
                any = true;
            }
        }
        if (any) {
            out.add(w.toString());
        }
        return out;
    }
}
