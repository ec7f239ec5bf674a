package io.pointsman.core.spi;

import java.util.ArrayList;
import java.util.List;

/**
 * What {@link ProxyBackend#checkDrift()} found in the kernel that differs from what the backend
 * last wrote. Each entry names one object, e.g. {@code "IPv4 nat KUBE-SVC-XPGD46QRK7WJZT7O"}.
 *
 * @param missing objects the backend wrote that the kernel no longer holds (chains, jump rules)
 * @param modified objects the kernel holds with other contents than the backend wrote
 */
public record DriftReport(List<String> missing, List<String> modified) {
    public static final DriftReport NONE = new DriftReport(List.of(), List.of());

    public DriftReport {
        missing = List.copyOf(missing);
        modified = List.copyOf(modified);
    }

    /** True when the kernel holds exactly what was written. */
    public boolean isEmpty() {
        return missing.isEmpty() && modified.isEmpty();
    }

    /** Number of drifted objects. */
    public int size() {
        return missing.size() + modified.size();
    }

    /** Both reports' entries, this one's first. */
    public DriftReport plus(DriftReport other) {
        if (other.isEmpty()) {
            return this;
        }
        if (isEmpty()) {
            return other;
        }
        List<String> m = new ArrayList<>(missing);
        m.addAll(other.missing);
        List<String> c = new ArrayList<>(modified);
        c.addAll(other.modified);
        return new DriftReport(m, c);
    }
}
