package io.pointsman.nftables;

import io.pointsman.nftables.DesiredTable.Touched;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * What turns one table state into another: the nft commands of one transaction, and the same
 * changes applied to a {@link Table} model once the kernel took them.
 *
 * <p>Commands run in an order the kernel accepts within one transaction: chains to rewrite are
 * flushed before sets they use are re-created; new sets and chains exist before rules and elements
 * refer to them; elements go before the chains and sets they referred to are deleted.
 */
final class Delta {
    boolean createTable;
    final List<String> flushChains = new ArrayList<>();
    /** Sets whose kernel elements are unknown: flushed, then filled with every wanted element. */
    final List<SetDef> flushSets = new ArrayList<>();
    final List<SetDef> recreateSets = new ArrayList<>();
    final List<SetDef> createSets = new ArrayList<>();
    final List<ChainDef> createChains = new ArrayList<>();
    /** Chains whose rules are written: the new ones and the flushed ones. */
    final List<ChainDef> writeRules = new ArrayList<>();
    final Map<String, List<String>> deleteElements = new LinkedHashMap<>();
    final Map<String, Map<String, String>> addElements = new LinkedHashMap<>();
    final List<String> deleteChains = new ArrayList<>();
    final List<SetDef> deleteSets = new ArrayList<>();

    boolean isEmpty() {
        return !createTable && flushChains.isEmpty() && flushSets.isEmpty() && recreateSets.isEmpty() && createSets.isEmpty()
                && createChains.isEmpty() && writeRules.isEmpty() && deleteElements.isEmpty()
                && addElements.isEmpty() && deleteChains.isEmpty() && deleteSets.isEmpty();
    }

    int elementsAdded() {
        int n = 0;
        for (Map<String, String> m : addElements.values()) {
            n += m.size();
        }
        return n;
    }

    int elementsDeleted() {
        int n = 0;
        for (List<String> l : deleteElements.values()) {
            n += l.size();
        }
        return n;
    }

    int rulesWritten() {
        int n = 0;
        for (ChainDef c : writeRules) {
            n += c.rules().size();
        }
        return n;
    }

    /**
     * The changes from {@code kernel} to {@code desired}.
     *
     * @param touched the parts that may differ; null compares everything
     * @param rewriteChains rewrite every chain that exists on both sides, whatever the model says
     *        of its rules (after reading the kernel back, whose rule texts are not compared)
     */
    static Delta between(Table kernel, boolean kernelHasTable, Table desired, Touched touched, boolean rewriteChains) {
        Delta d = new Delta();
        d.createTable = !kernelHasTable;

        // Sets: new, changed (re-created with their elements) and gone.
        Collection<String> setNames = touched == null ? union(kernel.sets.keySet(), desired.sets.keySet()) : touched.sets;
        Set<String> recreated = new HashSet<>();
        for (String name : setNames) {
            SetDef want = desired.sets.get(name);
            SetDef have = kernel.sets.get(name);
            if (want == null && have != null) {
                d.deleteSets.add(have);
            } else if (want != null && have == null) {
                d.createSets.add(want);
            } else if (want != null && !kernel.declares(name, want)) {
                d.recreateSets.add(want);
                recreated.add(name);
            }
        }

        // Chains.
        Collection<String> chainNames = touched == null ? union(kernel.chains.keySet(), desired.chains.keySet())
                : touched.chains;
        Set<String> rewritten = new HashSet<>();
        for (String name : chainNames) {
            ChainDef want = desired.chains.get(name);
            ChainDef have = kernel.chains.get(name);
            if (want == null && have != null) {
                d.deleteChains.add(name);
            } else if (want != null && have == null) {
                d.createChains.add(want);
                d.writeRules.add(want);
            } else if (want != null && (rewriteChains || !want.rules().equals(have.rules()))) {
                d.flushChains.add(name);
                d.writeRules.add(want);
                rewritten.add(name);
            }
        }
        if (rewriteChains) {
            for (ChainDef want : desired.chains.values()) {
                if (kernel.chains.containsKey(want.name()) && !rewritten.contains(want.name())
                        && !chainNames.contains(want.name())) {
                    d.flushChains.add(want.name());
                    d.writeRules.add(want);
                    rewritten.add(want.name());
                }
            }
        }
        // A set is deleted (or re-created) only once no rule uses it: flush the kernel chains that do.
        // Re-creation happens early in the transaction, so even chains deleted at its end are
        // flushed first; deletion happens last, after the chains to delete are gone.
        if (!recreated.isEmpty() || !d.deleteSets.isEmpty()) {
            Set<String> deleted = new HashSet<>();
            for (SetDef s : d.deleteSets) {
                deleted.add(s.name());
            }
            Set<String> deletedChains = new HashSet<>(d.deleteChains);
            for (ChainDef have : kernel.chains.values()) {
                if (rewritten.contains(have.name())) {
                    continue;
                }
                boolean going = deletedChains.contains(have.name());
                boolean flush = false;
                for (String s : recreated) {
                    flush |= have.uses(s);
                }
                if (!going) {
                    for (String s : deleted) {
                        flush |= have.uses(s);
                    }
                }
                if (flush) {
                    d.flushChains.add(have.name());
                    rewritten.add(have.name());
                    ChainDef want = desired.chains.get(have.name());
                    if (want != null) {
                        d.writeRules.add(want);
                    }
                }
            }
        }
        // Chains that call others go first, so the callees are unused when their turn comes.
        d.deleteChains.sort((a, b) -> {
            ChainDef ca = kernel.chains.get(a);
            ChainDef cb = kernel.chains.get(b);
            int x = ca != null && ca.callsOtherChains() ? 0 : 1;
            int y = cb != null && cb.callsOtherChains() ? 0 : 1;
            return x != y ? Integer.compare(x, y) : a.compareTo(b);
        });

        // Elements.
        if (touched == null) {
            for (Map.Entry<String, SetDef> e : desired.sets.entrySet()) {
                String name = e.getKey();
                if (e.getValue().dynamic()) {
                    continue;
                }
                boolean unknown = kernel.unknown.contains(name) && kernel.sets.containsKey(name) && !recreated.contains(name);
                if (unknown) {
                    d.flushSets.add(e.getValue());
                }
                elementDelta(d, name, kernel, desired, null, recreated.contains(name) || unknown);
            }
        } else {
            for (Map.Entry<String, Set<String>> e : touched.elements.entrySet()) {
                String set = e.getKey();
                if (desired.sets.containsKey(set) && !recreated.contains(set)) {
                    elementDelta(d, set, kernel, desired, e.getValue(), false);
                }
            }
            for (String set : recreated) {
                elementDelta(d, set, kernel, desired, null, true);
            }
            for (SetDef s : d.createSets) {
                if (!touched.elements.containsKey(s.name())) {
                    elementDelta(d, s.name(), kernel, desired, null, true);
                }
            }
        }
        return d;
    }

    private static void elementDelta(Delta d, String set, Table kernel, Table desired, Set<String> keys,
                                     boolean kernelEmpty) {
        Map<String, String> want = desired.elements.getOrDefault(set, Map.of());
        Map<String, String> have = kernelEmpty ? Map.of() : kernel.elements.getOrDefault(set, Map.of());
        if (keys == null && have.isEmpty()) {
            if (!want.isEmpty()) {
                // Read at once by the transaction and applyTo, before the wanted table changes again.
                d.addElements.put(set, want);
            }
            return;
        }
        if (keys == null) {
            for (Map.Entry<String, String> e : want.entrySet()) {
                String h = have.get(e.getKey());
                if (!e.getValue().equals(h)) {
                    if (h != null) {
                        d.deleteElements.computeIfAbsent(set, s -> new ArrayList<>()).add(e.getKey());
                    }
                    d.addElements.computeIfAbsent(set, s -> new HashMap<>()).put(e.getKey(), e.getValue());
                }
            }
            for (String key : have.keySet()) {
                if (!want.containsKey(key)) {
                    d.deleteElements.computeIfAbsent(set, s -> new ArrayList<>()).add(key);
                }
            }
            return;
        }
        for (String key : keys) {
            String w = want.get(key);
            String h = have.get(key);
            if (Objects.equals(w, h)) {
                continue;
            }
            if (h != null) {
                d.deleteElements.computeIfAbsent(set, s -> new ArrayList<>()).add(key);
            }
            if (w != null) {
                d.addElements.computeIfAbsent(set, s -> new HashMap<>()).put(key, w);
            }
        }
    }

    private static Collection<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new HashSet<>(a);
        u.addAll(b);
        return u;
    }

    /** The nft script of this delta for table {@code tableRef} ("ip pointsman"). */
    String script(String tableRef, boolean sorted) {
        StringBuilder b = new StringBuilder(64 + 48 * (elementsAdded() + elementsDeleted()) + 96 * rulesWritten());
        write(b, tableRef, sorted);
        return b.toString();
    }

    void write(StringBuilder b, String tableRef, boolean sorted) {
        write(b, tableRef, sorted, set -> false);
    }

    /**
     * Appends the script, leaving out the element changes of the sets {@code elsewhere} accepts
     * (they travel through netlink in a transaction of their own).
     */
    void write(StringBuilder b, String tableRef, boolean sorted, java.util.function.Predicate<String> elsewhere) {
        if (createTable) {
            b.append("add table ").append(tableRef).append(" { comment \"rules for Pointsman\" ; }\n");
        }
        for (String c : maybeSorted(flushChains, sorted)) {
            b.append("flush chain ").append(tableRef).append(' ').append(c).append('\n');
        }
        for (SetDef s : flushSets) {
            b.append("flush ").append(s.kind()).append(' ').append(tableRef).append(' ').append(s.name()).append('\n');
        }
        for (SetDef s : recreateSets) {
            b.append("delete ").append(s.kind()).append(' ').append(tableRef).append(' ').append(s.name()).append('\n');
        }
        List<SetDef> newSets = new ArrayList<>(recreateSets);
        newSets.addAll(createSets);
        if (sorted) {
            newSets.sort((x, y) -> x.name().compareTo(y.name()));
        }
        for (SetDef s : newSets) {
            b.append("add ").append(s.kind()).append(' ').append(tableRef).append(' ').append(s.name()).append(' ')
                    .append(s.body()).append('\n');
        }
        List<ChainDef> newChains = new ArrayList<>(createChains);
        if (sorted) {
            newChains.sort((x, y) -> x.name().compareTo(y.name()));
        }
        for (ChainDef c : newChains) {
            b.append("add chain ").append(tableRef).append(' ').append(c.name());
            if (c.base() != null) {
                b.append(" { ").append(c.base()).append(" }");
            }
            b.append('\n');
        }
        List<ChainDef> rules = new ArrayList<>(writeRules);
        if (sorted) {
            rules.sort((x, y) -> x.name().compareTo(y.name()));
        }
        for (ChainDef c : rules) {
            for (String r : c.rules()) {
                b.append("add rule ").append(tableRef).append(' ').append(c.name()).append(' ').append(r).append('\n');
            }
        }
        Map<String, List<String>> dels = sorted ? new TreeMap<>(deleteElements) : deleteElements;
        for (Map.Entry<String, List<String>> e : dels.entrySet()) {
            if (elsewhere.test(e.getKey())) {
                continue;
            }
            b.append("delete element ").append(tableRef).append(' ').append(e.getKey()).append(" {");
            String sep = " ";
            for (String key : maybeSorted(e.getValue(), sorted)) {
                b.append(sep).append(key);
                sep = ", ";
            }
            b.append(" }\n");
        }
        Map<String, Map<String, String>> adds = sorted ? new TreeMap<>(addElements) : addElements;
        for (Map.Entry<String, Map<String, String>> e : adds.entrySet()) {
            if (elsewhere.test(e.getKey())) {
                continue;
            }
            b.append("add element ").append(tableRef).append(' ').append(e.getKey()).append(" {");
            boolean first = true;
            Map<String, String> elems = sorted ? new TreeMap<>(e.getValue()) : e.getValue();
            for (Map.Entry<String, String> el : elems.entrySet()) {
                b.append(first ? " " : ",\n  ").append(el.getKey());
                if (!el.getValue().isEmpty()) {
                    b.append(" : ").append(el.getValue());
                }
                first = false;
            }
            b.append(" }\n");
        }
        for (String c : deleteChains) {
            b.append("delete chain ").append(tableRef).append(' ').append(c).append('\n');
        }
        for (SetDef s : deleteSets) {
            b.append("delete ").append(s.kind()).append(' ').append(tableRef).append(' ').append(s.name()).append('\n');
        }
    }

    private static List<String> maybeSorted(List<String> list, boolean sorted) {
        if (!sorted) {
            return list;
        }
        List<String> copy = new ArrayList<>(list);
        copy.sort(null);
        return copy;
    }

    /** Whether only element changes are left, all of sets {@code plain} accepts. */
    boolean onlyElementsOf(java.util.function.Predicate<String> plain) {
        if (createTable || !flushChains.isEmpty() || !flushSets.isEmpty() || !recreateSets.isEmpty() || !createSets.isEmpty()
                || !createChains.isEmpty() || !writeRules.isEmpty() || !deleteChains.isEmpty() || !deleteSets.isEmpty()) {
            return false;
        }
        return deleteElements.keySet().stream().allMatch(plain) && addElements.keySet().stream().allMatch(plain);
    }

    /** Whether nothing is deleted: a delta that may be split into structure first, then elements. */
    boolean onlyAdds() {
        return deleteChains.isEmpty() && deleteSets.isEmpty() && recreateSets.isEmpty() && deleteElements.isEmpty()
                && flushSets.isEmpty();
    }

    /** Applies this delta to {@code kernel}, the model of what the kernel now holds. */
    void applyTo(Table kernel, Table desired) {
        for (SetDef s : flushSets) {
            kernel.elements.remove(s.name());
            kernel.unknown.remove(s.name());
        }
        for (SetDef s : recreateSets) {
            kernel.sets.put(s.name(), s);
            kernel.signatures.remove(s.name());
            kernel.unknown.remove(s.name());
            kernel.elements.remove(s.name());
        }
        for (SetDef s : createSets) {
            kernel.sets.put(s.name(), s);
            kernel.signatures.remove(s.name());
        }
        for (ChainDef c : writeRules) {
            kernel.chains.put(c.name(), c);
        }
        for (Map.Entry<String, List<String>> e : deleteElements.entrySet()) {
            Map<String, String> m = kernel.elements.get(e.getKey());
            if (m != null) {
                for (String key : e.getValue()) {
                    m.remove(key);
                }
            }
        }
        for (Map.Entry<String, Map<String, String>> e : addElements.entrySet()) {
            Map<String, String> have = kernel.elements.get(e.getKey());
            if (have == null) {
                kernel.elements.put(e.getKey(), new HashMap<>(e.getValue()));
            } else {
                have.putAll(e.getValue());
            }
        }
        for (String c : deleteChains) {
            kernel.chains.remove(c);
        }
        for (SetDef s : deleteSets) {
            kernel.sets.remove(s.name());
            kernel.signatures.remove(s.name());
            kernel.unknown.remove(s.name());
            kernel.elements.remove(s.name());
        }
        kernel.elements.values().removeIf(Map::isEmpty);
    }
}
