package io.pointsman.userspace;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.util.concurrent.ScheduledFuture;
import io.pointsman.core.model.Protocol;
import java.net.InetSocketAddress;
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
    private Channel channel;
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
    synchronized ChannelFuture bind() {
        ChannelFuture f = spec.protocol() == Protocol.UDP ? runtime.bindUdp(spec.address(), pool)
                : runtime.bindTcp(spec.address(), pool);
        f.addListener((ChannelFutureListener) this::bound);
        return f;
    }

    private synchronized void bound(ChannelFuture f) {
        retry = null;
        if (closed) {
            f.channel().close();
            return;
        }
        if (f.isSuccess()) {
            channel = f.channel();
            runtime.metrics().listenerBound();
            if (failures > 0) {
                runtime.metrics().listenerPending(-1);
                log.info("{} of {}: bound after {} failed attempt(s), serving now", spec, pool.name(), failures);
            } else {
                log.debug("{} of {}: listening on {}", spec, pool.name(), channel.localAddress());
            }
            return;
        }
        runtime.metrics().bindFailure();
        if (failures++ == 0) {
            runtime.metrics().listenerPending(1);
            log.warn("{} of {}: cannot bind ({}); retrying every {} s, other listeners keep serving", spec,
                    pool.name(), f.cause().getMessage(), runtime.options().bindRetryInterval().toSeconds());
        } else {
            log.debug("{} of {}: bind attempt {} failed: {}", spec, pool.name(), failures, f.cause().getMessage());
        }
        long delay = runtime.options().bindRetryInterval().toMillis();
        retry = runtime.group().schedule(this::bind, delay, TimeUnit.MILLISECONDS);
    }

    /** Whether the socket is bound and serving. */
    synchronized boolean isBound() {
        return channel != null;
    }

    /** The bound port, or -1 while not bound. */
    synchronized int port() {
        return channel == null ? -1 : ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /** UDP: ends the sessions whose endpoint is gone (on the listener's own event loop). */
    synchronized void retainEndpoints(Set<InetSocketAddress> current) {
        Channel ch = channel;
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
        if (failures > 0 && channel == null) {
            runtime.metrics().listenerPending(-1);
        }
        if (channel != null) {
            channel.close();
            runtime.metrics().listenerClosed();
            log.debug("{} of {}: closed", spec, pool.name());
            channel = null;
        }
    }
}
