package io.pointsman.nftables;

import io.pointsman.core.model.ServicePortName;
import io.pointsman.nftables.Contribution.Element;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The table a sync wants, kept up to date one contribution at a time: replacing a service port's
 * contribution costs what that service port adds, not what the table holds. Records which sets,
 * elements and chains changed since {@link #drainTouched()}.
 *
 * <p>Two service ports may claim the same element (a shared ClusterIP in {@code cluster-ips}, an
 * endpoint in {@code hairpin}, or a misconfiguration such as two Services with one external IP and
 * port). Every claim is kept; the element's value is that of the first claimant in owner order
 * (the static part first, then service ports by name), so the result does not depend on the order
 * in which contributions arrived.
 */
final class DesiredTable {
    private final Ruleset ruleset;
    private final Table table = new Table();
    private final Map<String, SetClaims> claims = new HashMap<>();
    private final Map<ServicePortName, Contribution> services = new HashMap<>();
    private Contribution staticPart = Contribution.NONE;
    private final Map<String, Integer> lbRefs = new HashMap<>();
    private final Map<String, Integer> slotRefs = new HashMap<>();
    private Touched touched = new Touched();
    /** False while a whole table is built at once: then everything counts as changed, no need to record it. */
    private boolean tracking = true;
    private int noLocalInternal;
    private int noLocalExternal;

    /** What changed: sets (declarations), elements per set, chains. */
    static final class Touched {
        final Set<String> sets = new HashSet<>();
        final Map<String, Set<String>> elements = new HashMap<>();
        final Set<String> chains = new HashSet<>();

        boolean isEmpty() {
            return sets.isEmpty() && elements.isEmpty() && chains.isEmpty();
        }
    }

    /** One claim on an element, in a list sorted by owner (null, the static part, first). */
    private record Claim(ServicePortName owner, String value, Claim next) {
    }

    DesiredTable(Ruleset ruleset) {
        this.ruleset = ruleset;
    }

    /** The effective table. Read only. */
    Table table() {
        return table;
    }

    int servicePorts() {
        return services.size();
    }

    int noLocalInternal() {
        return noLocalInternal;
    }

    int noLocalExternal() {
        return noLocalExternal;
    }

    /** Stops (or resumes) recording changes; a delta of everything is computed without them. */
    void tracking(boolean on) {
        tracking = on;
        if (!on) {
            touched = new Touched();
        }
    }

    Touched drainTouched() {
        Touched t = touched;
        touched = new Touched();
        return t;
    }

    /** Replaces the static part (sets, chains and node-dependent elements). */
    void putStatic(Contribution c) {
        Contribution old = staticPart;
        staticPart = c;
        replace(null, old, c);
    }

    /** Replaces (or with null removes) one service port's contribution. */
    void putService(ServicePortName name, Contribution c) {
        Contribution old = c == null ? services.remove(name) : services.put(name, c);
        if (old == null && c == null) {
            return;
        }
        replace(name, old, c);
    }

    boolean hasService(ServicePortName name) {
        return services.containsKey(name);
    }

    private void replace(ServicePortName owner, Contribution old, Contribution c) {
        if (old != null) {
            noLocalInternal -= old.noLocalInternal();
            noLocalExternal -= old.noLocalExternal();
            for (Element e : old.elements()) {
                unclaim(owner, e.set(), e.key());
            }
            for (ChainDef chain : old.chains()) {
                table.chains.remove(chain.name());
                touched.chains.add(chain.name());
            }
            for (SetDef set : old.sets()) {
                table.sets.remove(set.name());
                table.elements.remove(set.name());
                touched.sets.add(set.name());
            }
            for (String ref : old.chainRefs()) {
                unref(ref);
            }
        }
        if (c != null) {
            noLocalInternal += c.noLocalInternal();
            noLocalExternal += c.noLocalExternal();
            for (SetDef set : c.sets()) {
                table.sets.put(set.name(), set);
                touched.sets.add(set.name());
            }
            for (ChainDef chain : c.chains()) {
                table.chains.put(chain.name(), chain);
                touched.chains.add(chain.name());
            }
            for (String ref : c.chainRefs()) {
                ref(ref);
            }
            for (Element e : c.elements()) {
                claim(owner, e.set(), e.key(), e.value());
            }
        }
    }

    private void ref(String lbChain) {
        int n = lbRefs.merge(lbChain, 1, Integer::sum);
        if (n == 1) {
            table.chains.put(lbChain, ruleset.lbChain(lbChain));
            touched.chains.add(lbChain);
            Object[] parsed = Ruleset.LbFamily.parse(lbChain);
            Ruleset.LbFamily f = (Ruleset.LbFamily) parsed[0];
            for (int i = 0; i < (Integer) parsed[1]; i++) {
                refSlot(f, i);
            }
        }
    }

    private void unref(String lbChain) {
        Integer n = lbRefs.get(lbChain);
        if (n == null) {
            return;
        }
        if (n > 1) {
            lbRefs.put(lbChain, n - 1);
            return;
        }
        lbRefs.remove(lbChain);
        table.chains.remove(lbChain);
        touched.chains.add(lbChain);
        Object[] parsed = Ruleset.LbFamily.parse(lbChain);
        Ruleset.LbFamily f = (Ruleset.LbFamily) parsed[0];
        for (int i = 0; i < (Integer) parsed[1]; i++) {
            unrefSlot(f, i);
        }
    }

    /** A slot's chain and map exist while an lb chain of at least slot+1 endpoints uses them. */
    private void refSlot(Ruleset.LbFamily f, int slot) {
        String chain = f.slotChain(slot);
        if (slotRefs.merge(chain, 1, Integer::sum) == 1) {
            SetDef map = ruleset.slotMap(f, slot);
            table.sets.put(map.name(), map);
            touched.sets.add(map.name());
            table.chains.put(chain, ruleset.slotChain(f, slot));
            touched.chains.add(chain);
        }
    }

    private void unrefSlot(Ruleset.LbFamily f, int slot) {
        String chain = f.slotChain(slot);
        Integer n = slotRefs.get(chain);
        if (n == null) {
            return;
        }
        if (n > 1) {
            slotRefs.put(chain, n - 1);
            return;
        }
        slotRefs.remove(chain);
        table.chains.remove(chain);
        touched.chains.add(chain);
        String map = f.slotMap(slot);
        table.sets.remove(map);
        touched.sets.add(map);
    }

    private void claim(ServicePortName owner, String set, String key, String value) {
        SetClaims sc = claims.get(set);
        if (sc == null) {
            sc = new SetClaims();
            claims.put(set, sc);
            table.elements.put(set, sc);
        }
        Claim head = sc.claims.get(key);
        Claim updated = head == null ? new Claim(owner, value, null) : insert(head, owner, value);
        sc.claims.put(key, updated);
        if (head == null || !head.value.equals(updated.value)) {
            touch(set, key);
        }
    }

    private void unclaim(ServicePortName owner, String set, String key) {
        SetClaims sc = claims.get(set);
        Claim head = sc == null ? null : sc.claims.get(key);
        if (head == null) {
            return;
        }
        Claim updated = remove(head, owner);
        if (updated == null) {
            sc.claims.remove(key);
            if (sc.claims.isEmpty()) {
                claims.remove(set);
                table.elements.remove(set);
            }
            touch(set, key);
            return;
        }
        sc.claims.put(key, updated);
        if (!updated.value.equals(head.value)) {
            touch(set, key);
        }
    }

    /**
     * The claims on one set's elements, and at the same time (as a read-only map) the elements'
     * values: the first claim's. One hash map per set instead of two.
     */
    private static final class SetClaims extends AbstractMap<String, String> {
        final HashMap<String, Claim> claims = new HashMap<>();

        @Override
        public String get(Object key) {
            Claim c = claims.get(key);
            return c == null ? null : c.value;
        }

        @Override
        public boolean containsKey(Object key) {
            return claims.containsKey(key);
        }

        @Override
        public int size() {
            return claims.size();
        }

        @Override
        public boolean isEmpty() {
            return claims.isEmpty();
        }

        @Override
        public Set<String> keySet() {
            return Collections.unmodifiableSet(claims.keySet());
        }

        @Override
        public Set<Map.Entry<String, String>> entrySet() {
            return new AbstractSet<>() {
                @Override
                public Iterator<Map.Entry<String, String>> iterator() {
                    Iterator<Map.Entry<String, Claim>> it = claims.entrySet().iterator();
                    return new Iterator<>() {
                        @Override
                        public boolean hasNext() {
                            return it.hasNext();
                        }

                        @Override
                        public Map.Entry<String, String> next() {
                            Map.Entry<String, Claim> e = it.next();
                            return new AbstractMap.SimpleImmutableEntry<>(e.getKey(), e.getValue().value);
                        }
                    };
                }

                @Override
                public int size() {
                    return claims.size();
                }
            };
        }
    }

    private void touch(String set, String key) {
        if (tracking) {
            touched.elements.computeIfAbsent(set, s -> new HashSet<>()).add(key);
        }
    }

    /** Inserts or replaces the owner's claim, keeping owner order. */
    private static Claim insert(Claim head, ServicePortName owner, String value) {
        if (head == null) {
            return new Claim(owner, value, null);
        }
        int c = compare(owner, head.owner);
        if (c == 0) {
            return new Claim(owner, value, head.next);
        }
        if (c < 0) {
            return new Claim(owner, value, head);
        }
        return new Claim(head.owner, head.value, insert(head.next, owner, value));
    }

    private static Claim remove(Claim head, ServicePortName owner) {
        if (head == null) {
            return null;
        }
        if (compare(owner, head.owner) == 0) {
            return head.next;
        }
        Claim rest = remove(head.next, owner);
        return rest == head.next ? head : new Claim(head.owner, head.value, rest);
    }

    private static int compare(ServicePortName a, ServicePortName b) {
        if (a == null || b == null) {
            return a == b ? 0 : a == null ? -1 : 1;
        }
        return a.compareTo(b);
    }
}
