package io.pointsman.nftables;

import io.pointsman.core.linux.Nft;
import io.pointsman.core.linux.NftException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A kernel stand-in that holds the tables the scripts build and refuses what the kernel refuses:
 * a duplicate key with another value, deleting what is not there, deleting a chain something
 * still goes to or a set a rule still uses, rules in a missing chain. A refused script changes
 * nothing, as a refused transaction does. No listing: it answers "no table".
 */
final class SimulatedNft implements Nft {
    /** One table: "ip pointsman" → contents. */
    static final class Tbl {
        final Map<String, String> sets = new TreeMap<>();
        final Map<String, Map<String, String>> elements = new TreeMap<>();
        final Map<String, List<String>> chains = new TreeMap<>();
    }

    Map<String, Tbl> tables = new TreeMap<>();
    int scripts;

    @Override
    public void apply(String script) throws NftException {
        Map<String, Tbl> copy = deepCopy(tables);
        for (String st : statements(script)) {
            try {
                exec(copy, st);
            } catch (NftException e) {
                if (System.getProperty("simulated.debug") != null) {
                    System.out.println("REFUSED SCRIPT:\n" + script + "\nBEFORE:\n" + dump());
                }
                throw e;
            }
        }
        tables = copy;
        scripts++;
    }

    @Override
    public String listJson(List<String> what) {
        return null;
    }

    private static List<String> statements(String script) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String line : script.split("\n")) {
            if (line.startsWith("  ") && cur.length() > 0) {
                cur.append(' ').append(line.strip());
                continue;
            }
            if (cur.length() > 0) {
                out.add(cur.toString());
            }
            cur = new StringBuilder(line);
        }
        if (cur.length() > 0) {
            out.add(cur.toString());
        }
        return out;
    }

    private static void exec(Map<String, Tbl> tables, String st) throws NftException {
        String[] w = st.split(" ", 6);
        String verb = w[0] + " " + w[1];
        String table = w[2] + " " + w[3];
        if (verb.equals("add table")) {
            tables.putIfAbsent(table, new Tbl());
            return;
        }
        Tbl t = tables.get(table);
        if (t == null) {
            throw new NftException("no table " + table + ": " + st);
        }
        String name = w[4].split(" ")[0];
        switch (verb) {
            case "add set", "add map" -> {
                String body = st.substring(st.indexOf('{'));
                String have = t.sets.get(name);
                if (have != null && !have.equals(body)) {
                    throw new NftException("set " + name + " exists with another declaration: " + st);
                }
                t.sets.put(name, body);
            }
            case "delete set", "delete map" -> {
                if (t.sets.remove(name) == null) {
                    throw new NftException("no set " + name + ": " + st);
                }
                for (Map.Entry<String, List<String>> c : t.chains.entrySet()) {
                    for (String r : c.getValue()) {
                        if (r.contains("@" + name + " ") || r.endsWith("@" + name)) {
                            throw new NftException("set " + name + " in use by chain " + c.getKey() + ": " + st);
                        }
                    }
                }
                t.elements.remove(name);
            }
            case "add chain" -> t.chains.putIfAbsent(name, new ArrayList<>());
            case "flush chain" -> {
                if (!t.chains.containsKey(name)) {
                    throw new NftException("no chain " + name + ": " + st);
                }
                t.chains.put(name, new ArrayList<>());
            }
            case "delete chain" -> {
                if (t.chains.remove(name) == null) {
                    throw new NftException("no chain " + name + ": " + st);
                }
                for (Map.Entry<String, List<String>> c : t.chains.entrySet()) {
                    for (String r : c.getValue()) {
                        if (targets(r).contains(name)) {
                            throw new NftException("chain " + name + " in use by chain " + c.getKey() + ": " + st);
                        }
                    }
                }
                for (Map<String, String> els : t.elements.values()) {
                    if (els.containsValue("goto " + name)) {
                        throw new NftException("chain " + name + " in use by an element: " + st);
                    }
                }
            }
            case "add rule" -> {
                List<String> rules = t.chains.get(name);
                if (rules == null) {
                    throw new NftException("no chain " + name + ": " + st);
                }
                String rule = w[5];
                int at = rule.indexOf('@');
                if (at >= 0) {
                    String set = rule.substring(at + 1).split("[ }]")[0];
                    if (!t.sets.containsKey(set)) {
                        throw new NftException("rule uses missing set " + set + ": " + st);
                    }
                }
                for (String target : targets(rule)) {
                    if (!t.chains.containsKey(target)) {
                        throw new NftException("rule goes to a missing chain: " + st);
                    }
                }
                rules.add(rule);
            }
            case "add element", "delete element" -> {
                if (!t.sets.containsKey(name)) {
                    throw new NftException("no set " + name + ": " + st);
                }
                Map<String, String> els = t.elements.computeIfAbsent(name, k -> new TreeMap<>());
                String body = st.substring(st.indexOf('{') + 1, st.lastIndexOf('}')).strip();
                for (String el : body.split(", ")) {
                    int colon = el.indexOf(" : ");
                    String key = colon < 0 ? el : el.substring(0, colon);
                    String value = colon < 0 ? "" : el.substring(colon + 3);
                    if (verb.equals("add element")) {
                        String have = els.get(key);
                        if (have != null && !have.equals(value)) {
                            throw new NftException("element " + key + " exists with another value: " + st);
                        }
                        if (value.startsWith("goto ") && !t.chains.containsKey(value.substring(5))) {
                            throw new NftException("element goes to a missing chain: " + el);
                        }
                        els.put(key, value);
                    } else if (els.remove(key) == null) {
                        throw new NftException("no element " + key + " in " + name + ": " + st);
                    }
                }
                if (els.isEmpty()) {
                    t.elements.remove(name);
                }
            }
            default -> throw new NftException("unknown command: " + st);
        }
    }

    /** The chains a rule jumps or goes to. */
    private static List<String> targets(String rule) {
        List<String> out = new ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:goto|jump) ([^ ,}]+)").matcher(rule);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    private static Map<String, Tbl> deepCopy(Map<String, Tbl> tables) {
        Map<String, Tbl> out = new TreeMap<>();
        for (Map.Entry<String, Tbl> e : tables.entrySet()) {
            Tbl t = new Tbl();
            t.sets.putAll(e.getValue().sets);
            for (Map.Entry<String, Map<String, String>> s : e.getValue().elements.entrySet()) {
                t.elements.put(s.getKey(), new TreeMap<>(s.getValue()));
            }
            for (Map.Entry<String, List<String>> c : e.getValue().chains.entrySet()) {
                t.chains.put(c.getKey(), new ArrayList<>(c.getValue()));
            }
            out.put(e.getKey(), t);
        }
        return out;
    }

    /** A comparable picture of everything: declarations, elements, rules. */
    String dump() {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, Tbl> e : tables.entrySet()) {
            b.append("table ").append(e.getKey()).append('\n');
            Tbl t = e.getValue();
            t.sets.forEach((k, v) -> b.append("  set ").append(k).append(' ').append(v).append('\n'));
            t.elements.forEach((k, v) -> v.forEach((key, val) -> b.append("  element ").append(k).append(' ')
                    .append(key).append(val.isEmpty() ? "" : " : " + val).append('\n')));
            t.chains.forEach((k, v) -> {
                b.append("  chain ").append(k).append('\n');
                v.forEach(r -> b.append("    ").append(r).append('\n'));
            });
        }
        return b.toString();
    }
}
