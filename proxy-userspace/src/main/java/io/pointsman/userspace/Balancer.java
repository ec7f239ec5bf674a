package io.pointsman.userspace;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Chooses the endpoint of a new connection for one service port, scope and IP family: round
 * robin, or the client's previous endpoint while ClientIP affinity holds. Thread-safe: the
 * reconciler thread updates it, every event loop reads it.
 *
 * <p>A choice is an ordered list of endpoints to try: the first is the pick, the rest are where
 * to go when a dial fails, each endpoint once and at most {@link #MAX_ATTEMPTS} in all, so a
 * client never waits for more than a few connect timeouts.
 */
final class Balancer {
    /** Endpoints tried per connection before it is given up. */
    static final int MAX_ATTEMPTS = 4;

    /** The endpoints and affinity timeout in force; replaced whole, never changed in place. */
    private record Snapshot(List<InetSocketAddress> endpoints, Set<InetSocketAddress> members, long affinityNanos) {
    }

    /** A client's endpoint and when it was last chosen for that client. */
    private record Sticky(InetSocketAddress endpoint, long lastUsedNanos) {
    }

    private final LongSupplier nanoClock;
    private final AtomicInteger next = new AtomicInteger();
    private final Map<InetAddress, Sticky> sticky = new ConcurrentHashMap<>();
    private volatile Snapshot snapshot = new Snapshot(List.of(), Set.of(), 0);

    Balancer(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    Balancer() {
        this(System::nanoTime);
    }

    /**
     * Replaces the endpoints (in their stable order) and the affinity timeout (0 = off). Affinity
     * entries pointing at endpoints that are gone are forgotten; new connections see the change at once.
     */
    void update(List<InetSocketAddress> endpoints, int affinityTimeoutSeconds) {
        long affinityNanos = affinityTimeoutSeconds * 1_000_000_000L;
        Snapshot s = new Snapshot(List.copyOf(endpoints), Set.copyOf(endpoints), affinityNanos);
        snapshot = s;
        if (affinityNanos == 0) {
            sticky.clear();
        } else {
            sticky.values().removeIf(e -> !s.members().contains(e.endpoint()));
        }
    }

    List<InetSocketAddress> endpoints() {
        return snapshot.endpoints();
    }

    boolean isEmpty() {
        return snapshot.endpoints().isEmpty();
    }

    /** The endpoints to try for a new connection from {@code client}, best first; empty when there are none. */
    List<InetSocketAddress> candidates(InetAddress client) {
        Snapshot s = snapshot;
        List<InetSocketAddress> eps = s.endpoints();
        int n = eps.size();
        if (n == 0) {
            return List.of();
        }
        InetSocketAddress preferred = null;
        if (s.affinityNanos() > 0) {
            Sticky e = sticky.get(client);
            if (e != null && nanoClock.getAsLong() - e.lastUsedNanos() < s.affinityNanos()
                    && s.members().contains(e.endpoint())) {
                preferred = e.endpoint();
            }
        }
        int attempts = Math.min(n, MAX_ATTEMPTS);
        if (n == 1) {
            return eps;
        }
        List<InetSocketAddress> out = new ArrayList<>(attempts);
        int start;
        if (preferred != null) {
            out.add(preferred);
            // Fall back to the endpoints after the sticky one, without advancing the rotation.
            start = eps.indexOf(preferred) + 1;
        } else {
            start = Math.floorMod(next.getAndIncrement(), n);
        }
        for (int i = 0; out.size() < attempts && i < n; i++) {
            InetSocketAddress ep = eps.get((start + i) % n);
            if (!ep.equals(preferred)) {
                out.add(ep);
            }
        }
        return out;
    }

    /** A connection from {@code client} to {@code endpoint} was set up: with affinity, later ones follow it. */
    void connected(InetAddress client, InetSocketAddress endpoint) {
        if (snapshot.affinityNanos() > 0) {
            sticky.put(client, new Sticky(endpoint, nanoClock.getAsLong()));
        }
    }

    /** Forgets affinity entries that expired; answers how many remain. */
    int expireAffinity() {
        long affinityNanos = snapshot.affinityNanos();
        long now = nanoClock.getAsLong();
        sticky.values().removeIf(e -> now - e.lastUsedNanos() >= affinityNanos);
        return sticky.size();
    }

    /** Number of clients with a live or not yet swept affinity entry (for tests and metrics). */
    int affinityEntries() {
        return sticky.size();
    }
}
