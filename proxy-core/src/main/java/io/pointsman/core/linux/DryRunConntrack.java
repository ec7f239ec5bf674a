package io.pointsman.core.linux;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reads nothing and deletes nothing: logs each deletion it was asked for. For dry runs. */
public final class DryRunConntrack implements Conntrack {
    private static final Logger log = LoggerFactory.getLogger(DryRunConntrack.class);

    @Override
    public List<ConntrackFlow> list(IpFamily family, Protocol protocol) {
        return List.of();
    }

    @Override
    public int delete(Filter filter) {
        log.info("dry run: would delete conntrack flows: {}", filter);
        return 0;
    }

    @Override
    public boolean dryRun() {
        return true;
    }
}
