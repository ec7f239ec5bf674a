package io.pointsman.ipvs;

import io.pointsman.core.model.IpFamily;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Turns {@code ipset save} output and the desired entries into one {@code ipset -exist restore}
 * script: create missing sets, delete stale entries, add missing ones. Pure.
 */
public final class IpsetSync {
    private IpsetSync() {
    }

    /** One set as {@code ipset save} showed it. */
    public record SavedSet(String name, String type, String family, Set<String> entries) {
    }

    /** Parses {@code ipset save} output (all sets; callers pick theirs by name). */
    public static Map<String, SavedSet> parse(String save) {
        Map<String, String> types = new HashMap<>();
        Map<String, String> families = new HashMap<>();
        Map<String, Set<String>> entries = new HashMap<>();
        for (String line : save.split("\n")) {
            String[] t = line.trim().split("\\s+");
            if (t.length >= 3 && t[0].equals("create")) {
                types.put(t[1], t[2]);
                String fam = "";
                for (int i = 3; i + 1 < t.length; i++) {
                    if (t[i].equals("family")) {
                        fam = t[i + 1];
                    }
                }
                families.put(t[1], fam);
                entries.putIfAbsent(t[1], new TreeSet<>());
            } else if (t.length >= 3 && t[0].equals("add")) {
                entries.computeIfAbsent(t[1], k -> new TreeSet<>()).add(t[2]);
            }
        }
        Map<String, SavedSet> out = new HashMap<>();
        types.forEach((name, type) -> out.put(name, new SavedSet(name, type, families.get(name),
                Set.copyOf(entries.get(name)))));
        return out;
    }

    /**
     * The restore script taking {@code saved} to {@code desired} for the sets of {@code families};
     * "" when nothing differs.
     */
    public static String script(Map<String, SavedSet> saved, DesiredState desired, List<IpFamily> families) {
        StringBuilder b = new StringBuilder();
        for (IpFamily family : families) {
            for (IpsetSpec spec : IpsetSpec.values()) {
                String name = spec.name(family);
                Set<String> want = desired.entries(family, spec);
                SavedSet have = saved.get(name);
                if (have == null) {
                    b.append(spec.createLine(family)).append('\n');
                }
                Set<String> haveEntries = have == null ? Set.of() : have.entries();
                for (String e : haveEntries) {
                    if (!want.contains(e)) {
                        b.append("del ").append(name).append(' ').append(e).append('\n');
                    }
                }
                for (String e : want) {
                    if (!haveEntries.contains(e)) {
                        b.append("add ").append(name).append(' ').append(e).append('\n');
                    }
                }
            }
        }
        return b.toString();
    }
}
