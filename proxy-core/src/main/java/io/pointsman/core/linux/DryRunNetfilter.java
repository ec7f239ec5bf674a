package io.pointsman.core.linux;

import io.pointsman.core.model.IpFamily;
import java.util.EnumMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes nothing: logs each restore payload instead. Used with {@code --dry-run}, and
 * automatically when the daemon runs without root or without the iptables tools.
 */
public final class DryRunNetfilter implements Netfilter {
    private static final Logger log = LoggerFactory.getLogger(DryRunNetfilter.class);
    private final Map<IpFamily, String> last = new EnumMap<>(IpFamily.class);

    @Override
    public synchronized void restore(IpFamily family, String payload) {
        last.put(family, payload);
        log.info("dry run: {} restore payload ({} lines):\n{}", family, payload.lines().count(), payload);
    }

    @Override
    public String save(IpFamily family, String table) {
        return "";
    }

    /** The last payload "applied" for a family, "" when none. */
    public synchronized String lastPayload(IpFamily family) {
        return last.getOrDefault(family, "");
    }

    @Override
    public boolean dryRun() {
        return true;
    }
}
