package io.pointsman.core.spi;

import java.util.Map;

/**
 * What a sync did, for the one log line per sync.
 *
 * @param servicePortsWritten service ports whose rules were (re)written
 * @param counts backend-specific counts in log order, e.g. {"natRules": 120, "filterRules": 4}
 */
public record SyncResult(int servicePortsWritten, Map<String, Long> counts) {
    public SyncResult {
        counts = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(counts));
    }
}
