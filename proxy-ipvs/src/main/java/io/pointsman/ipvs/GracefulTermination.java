package io.pointsman.ipvs;

import io.pointsman.core.model.Protocol;
import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Graceful termination of destinations that are no longer wanted: a TCP destination with
 * connections is first set to weight 0 (no new connections) and deleted once its active and
 * inactive connections reach 0, or after {@code bound}; UDP and SCTP destinations, and idle
 * ones, are deleted at once. Remembers when each pending removal began; a restart starts the
 * clock again, which only delays a deletion, never skips one.
 */
public final class GracefulTermination {
    /** What to do with a destination that is no longer wanted. */
    public enum Action { DELETE, SET_WEIGHT_ZERO, WAIT }

    /** A pending destination: its service and "ip:port". */
    public record Pending(ServiceKey service, String destination) {
    }

    private final Duration bound;
    private final Map<Pending, Instant> since = new HashMap<>();

    public GracefulTermination(Duration bound) {
        this.bound = bound;
    }

    /** Decides for {@code current} (as just dumped) at {@code now}, and records a pending removal. */
    public synchronized Action decide(ServiceKey service, RealServer current, Instant now) {
        Pending p = new Pending(service, current.hostPort());
        if (service.protocol() != Protocol.TCP || current.connections() == 0) {
            since.remove(p);
            return Action.DELETE;
        }
        Instant start = since.computeIfAbsent(p, k -> now);
        if (!now.isBefore(start.plus(bound))) {
            since.remove(p);
            return Action.DELETE;
        }
        return current.weight() == 0 ? Action.WAIT : Action.SET_WEIGHT_ZERO;
    }

    /** Forgets pending removals that are not in {@code stillPending} (wanted again, or gone with their service). */
    public synchronized void retainOnly(Set<Pending> stillPending) {
        since.keySet().retainAll(stillPending);
    }

    public synchronized void forget(Pending p) {
        since.remove(p);
    }

    public synchronized Set<Pending> pending() {
        return Set.copyOf(since.keySet());
    }
}
