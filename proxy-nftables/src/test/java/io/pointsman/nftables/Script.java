package io.pointsman.nftables;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** A parsed nft script as this backend writes it: elements per set, rules per chain, and the command lines. */
final class Script {
    final Map<String, Map<String, String>> added = new TreeMap<>();
    final Map<String, List<String>> deleted = new TreeMap<>();
    final Map<String, List<String>> rules = new LinkedHashMap<>();
    final List<String> commands = new ArrayList<>();

    static Script parse(String text) {
        Script s = new Script();
        // Element lists span lines: join each statement first.
        List<String> statements = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String line : text.split("\n")) {
            if (line.startsWith("  ") && cur.length() > 0) {
                cur.append(' ').append(line.strip());
                continue;
            }
            if (cur.length() > 0) {
                statements.add(cur.toString());
            }
            cur = new StringBuilder(line);
        }
        if (cur.length() > 0) {
            statements.add(cur.toString());
        }
        for (String st : statements) {
            if (st.isBlank()) {
                continue;
            }
            String[] w = st.split(" ", 5);
            if (st.startsWith("add element ") || st.startsWith("delete element ")) {
                String set = w[4].substring(0, w[4].indexOf(' '));
                String body = st.substring(st.indexOf('{') + 1, st.lastIndexOf('}')).strip();
                s.commands.add(w[0] + " element " + set);
                for (String el : body.split(", ")) {
                    if (st.startsWith("add")) {
                        int colon = el.indexOf(" : ");
                        s.added.computeIfAbsent(set, k -> new TreeMap<>()).put(colon < 0 ? el : el.substring(0, colon),
                                colon < 0 ? "" : el.substring(colon + 3));
                    } else {
                        s.deleted.computeIfAbsent(set, k -> new ArrayList<>()).add(el);
                    }
                }
            } else if (st.startsWith("add rule ")) {
                String[] r = st.split(" ", 6);
                s.rules.computeIfAbsent(r[4], k -> new ArrayList<>()).add(r[5]);
                s.commands.add("add rule " + r[4]);
            } else {
                s.commands.add(st);
            }
        }
        return s;
    }

    Map<String, String> elements(String set) {
        return added.getOrDefault(set, Map.of());
    }

    /**
     * The elements of the slot maps PREFIX0, PREFIX1, ... as one map, the slot appended to each
     * key: "10.96.0.1 . tcp . 80 . 1" for the second endpoint.
     */
    Map<String, String> slots(String prefix) {
        Map<String, String> out = new TreeMap<>();
        added.forEach((set, els) -> {
            String rest = set.startsWith(prefix) ? set.substring(prefix.length()) : "";
            if (!rest.isEmpty() && rest.chars().allMatch(Character::isDigit)) {
                els.forEach((k, v) -> out.put(k + " . " + rest, v));
            }
        });
        return out;
    }

    List<String> rules(String chain) {
        return rules.getOrDefault(chain, List.of());
    }
}
