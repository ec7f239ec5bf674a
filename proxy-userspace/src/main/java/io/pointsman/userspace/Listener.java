package io.pointsman.userspace;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.pointsman.core.model.Protocol;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bound socket of a service port: a relay port the portal rules redirect to, or a node port.
 * A bind that fails (the address is in use) is logged once and retried in the background until it
 * succeeds or the listener is closed; it never stops the other listeners.
 */
final class Listener {
    private static final Logger log = LoggerFactory.getLogger(Listener.class);

    /** What a listener serves. Relay listeners bind an ephemeral port the portal rules point at. */
    enum Role {
        /** The cluster IP's relay port: cluster traffic (internal traffic policy). */
        CLUSTER("cluster"),
        /** The external IPs' and load-balancer IPs' relay port (external traffic policy). */
        EXTERNAL("external"),
        /** The node port itself, bound directly: no rule needed (external traffic policy). */
        NODE_PORT("node port");

        private final String text;

        Role(String text) {
            this.text = text;
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** What to bind: the key by which a sync finds a service port's existing listeners. */
    record Spec(Role role, Protocol protocol, InetSocketAddress address) {
        @Override
        public String toString() {
            return role + " " + address.getAddress().getHostAddress() + ":" + address.getPort() + "/" + protocol;
        }
    }

    private final Spec spec;
    private final EndpointPool pool;
    private final RelayRuntime runtime;
    /** The latest bind attempt; its sockets serve once it succeeded (waiters may see that before {@link #bound} ran). */
    private Future<List<Channel>> attempt;
    private List<Channel> channels;
    private ScheduledFuture<?> retry;
    private int failures;
    private boolean closed;

    Listener(Spec spec, EndpointPool pool, RelayRuntime runtime) {
        this.spec = spec;
        this.pool = pool;
        this.runtime = runtime;
    }

    Spec spec() {
        return spec;
    }

    /** Starts binding; a failure schedules a retry. */
    synchronized Future<List<Channel>> bind() {
        Future<List<Channel>> f = spec.protocol() == Protocol.UDP ? runtime.bindUdp(spec.address(), pool)
                : runtime.bindTcp(spec.address(), pool);
        attempt = f;
        f.addListener(done -> bound(f));
        return f;
    }

    private synchronized void bound(Future<List<Channel>> f) {
        retry = null;
        if (closed) {
            if (f.isSuccess()) {
                f.getNow().forEach(Channel::close);
            }
            return;
        }
        if (f.isSuccess()) {
            channels = f.getNow();
            runtime.metrics().listenerBound();
            if (failures > 0) {
                runtime.metrics().listenerPending(-1);
                log.info("{} of {}: bound after {} failed attempt(s), serving now", spec, pool.name(), failures);
            } else {
                log.debug("{} of {}: listening on {} ({} socket(s))", spec, pool.name(), channels.get(0).localAddress(),
                        channels.size());
            }
            return;
        }
        runtime.metrics().bindFailure();
        if (failures++ == 0) {
            runtime.metrics().listenerPending(1);
            log.warn("{} of {}: cannot bind ({}); retrying every {} ms, other listeners keep serving", spec,
                    pool.name(), f.cause().getMessage(), runtime.options().bindRetryInterval().toMillis());
        } else {
            log.debug("{} of {}: bind attempt {} failed: {}", spec, pool.name(), failures, f.cause().getMessage());
        }
        long delay = runtime.options().bindRetryInterval().toMillis();
        retry = runtime.group().schedule(this::bind, delay, TimeUnit.MILLISECONDS);
    }

    /** Whether the socket is bound and serving. */
    synchronized boolean isBound() {
        return !closed && attempt != null && attempt.isSuccess();
    }

    /** The bound port, or -1 while not bound. */
    synchronized int port() {
        if (!isBound()) {
            return -1;
        }
        InetSocketAddress local = (InetSocketAddress) attempt.getNow().get(0).localAddress();
        return local == null ? -1 : local.getPort();
    }

    /** UDP: ends the sessions whose endpoint is gone (on the listener's own event loop). */
    synchronized void retainEndpoints(Set<InetSocketAddress> current) {
        Channel ch = isBound() ? attempt.getNow().get(0) : null;
        if (ch == null || spec.protocol() != Protocol.UDP) {
            return;
        }
        ch.eventLoop().execute(() -> {
            UdpFrontend f = ch.pipeline().get(UdpFrontend.class);
            if (f != null) {
                f.retainEndpoints(current);
            }
        });
    }

    /**
     * Stops serving: new connections are no longer accepted. TCP connections already relayed stay
     * until their peers end them; UDP sessions end with the listener.
     */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (retry != null) {
            retry.cancel(false);
            retry = null;
        }
        if (failures > 0 && channels == null) {
            runtime.metrics().listenerPending(-1);
        }
        if (attempt != null && attempt.isSuccess()) {
            attempt.getNow().forEach(Channel::close);
        }
        if (channels != null) {
            runtime.metrics().listenerClosed();
            log.debug("{} of {}: closed", spec, pool.name());
            channels = null;
        }
    }
}
