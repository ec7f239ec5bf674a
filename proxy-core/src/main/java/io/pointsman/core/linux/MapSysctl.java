package io.pointsman.core.linux;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sysctls held in memory: for tests and dry runs, where the real ones must not change. Values of
 * parameters that were never set are missing, as on a kernel without the module.
 */
public final class MapSysctl implements Sysctl {
    private final Map<String, String> values = new TreeMap<>();

    public MapSysctl() {
    }

    /** Starts with these values (dotted names). */
    public MapSysctl(Map<String, String> initial) {
        initial.forEach((k, v) -> values.put(Sysctl.path(k), v));
    }

    @Override
    public synchronized String read(String name) throws IOException {
        String v = values.get(Sysctl.path(name));
        if (v == null) {
            throw new NoSuchFileException(name, null, "no such sysctl " + name);
        }
        return v.trim();
    }

    @Override
    public synchronized void write(String name, String value) throws IOException {
        String p = Sysctl.path(name);
        if (!values.containsKey(p)) {
            throw new NoSuchFileException(name, null, "no such sysctl " + name);
        }
        values.put(p, value);
    }

    /** A snapshot of every value, by slashed path. */
    public synchronized Map<String, String> values() {
        return Map.copyOf(values);
    }
}
