package io.pointsman.userspace;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.pointsman.core.model.Protocol;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first handler of an accepted client connection: picks endpoints from the pool, dials them
 * in turn until one answers (a refused or timed-out dial moves on to the next), then hands both
 * channels to a {@link TcpRelay} each and starts reading. With no endpoint at all, or none
 * answering, the client's connection is reset.
 */
final class TcpFrontend extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TcpFrontend.class);

    private final EndpointPool pool;
    private final Dialer dialer;
    private final RelayMetrics metrics;
    private TcpConnection connection;
    private Balancer balancer;
    private InetAddress clientAddress;
    private List<InetSocketAddress> attempts;
    private int attempt;
    private ChannelFuture dialing;
    /**
     * What the client sent while its endpoint was being dialed. Reading is off, but epoll reads
     * anyway when the client's FIN (RDHUP) arrives, so data and EOF can come early; they are
     * passed on once connected.
     */
    private List<ByteBuf> early;
    private boolean earlyEof;

    TcpFrontend(EndpointPool pool, Dialer dialer, RelayMetrics metrics) {
        this.pool = pool;
        this.dialer = dialer;
        this.metrics = metrics;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        Channel client = ctx.channel();
        metrics.opened(Protocol.TCP);
        client.closeFuture().addListener(f -> metrics.closed(Protocol.TCP));
        clientAddress = addressOf(client.remoteAddress());
        balancer = pool.forClient(clientAddress);
        attempts = balancer.candidates(clientAddress);
        if (attempts.isEmpty()) {
            metrics.noEndpoints(Protocol.TCP);
            if (pool.shouldWarn()) {
                log.warn("{}: no endpoints, refusing connections (e.g. from {})", pool, client.remoteAddress());
            }
            TcpConnection.reset(client);
            return;
        }
        connection = new TcpConnection(client);
        dial(ctx);
    }

    private void dial(ChannelHandlerContext ctx) {
        InetSocketAddress endpoint = attempts.get(attempt);
        dialing = dialer.dial(ctx.channel(), endpoint, new TcpRelay(connection, false, metrics));
        dialing.addListener((ChannelFutureListener) f -> dialed(ctx, endpoint, f));
    }

    private void dialed(ChannelHandlerContext ctx, InetSocketAddress endpoint, ChannelFuture f) {
        dialing = null;
        Channel client = ctx.channel();
        if (f.isSuccess()) {
            Channel upstream = f.channel();
            if (!client.isActive()) {
                upstream.close();
                return;
            }
            balancer.connected(clientAddress, endpoint);
            connection.attach(upstream);
            ctx.pipeline().replace(this, "relay", new TcpRelay(connection, true, metrics));
            upstream.read();
            passOnEarly(client, upstream);
            return;
        }
        if (f.isCancelled() || !client.isActive()) {
            f.channel().close();
            releaseEarly();
            return;
        }
        metrics.dialFailure(Protocol.TCP, RelayMetrics.DialFailure.of(f.cause()));
        attempt++;
        if (attempt < attempts.size()) {
            log.debug("{}: dial to {} failed ({}), trying {}", pool, endpoint, f.cause().toString(),
                    attempts.get(attempt));
            dial(ctx);
            return;
        }
        if (pool.shouldWarn()) {
            log.warn("{}: connection from {} reset: {} endpoint(s) tried, none answered (last {}: {})", pool,
                    client.remoteAddress(), attempts.size(), endpoint, f.cause().toString());
        }
        TcpConnection.reset(client);
    }

    /** Sends what arrived during the dial, then (once written) reads on or passes the EOF on. */
    private void passOnEarly(Channel client, Channel upstream) {
        List<ByteBuf> data = early;
        early = null;
        if (data == null || data.isEmpty()) {
            if (earlyEof) {
                connection.inputShutdown(client);
            } else {
                client.read();
            }
            return;
        }
        ChannelFuture last = null;
        for (ByteBuf b : data) {
            metrics.toEndpoint(Protocol.TCP, b.readableBytes());
            last = upstream.write(b);
        }
        upstream.flush();
        boolean eof = earlyEof;
        last.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                connection.close();
            } else if (eof) {
                connection.inputShutdown(client);
            } else {
                client.read();
            }
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf b) || connection == null) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (early == null) {
            early = new ArrayList<>(2);
        }
        early.add(b);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof ChannelInputShutdownEvent) {
            earlyEof = true;
        } else if (evt instanceof IdleStateEvent) {
            TcpConnection.reset(ctx.channel());
        } else {
            super.userEventTriggered(ctx, evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseEarly();
        // The client left while an endpoint was being dialed: drop the dial too.
        ChannelFuture d = dialing;
        if (d != null) {
            d.channel().close();
        }
    }

    private void releaseEarly() {
        if (early != null) {
            early.forEach(ReferenceCountUtil::release);
            early = null;
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("client {} failed before its endpoint answered: {}", ctx.channel().remoteAddress(), cause.toString());
        TcpConnection.reset(ctx.channel());
    }

    static InetAddress addressOf(SocketAddress a) {
        if (a instanceof InetSocketAddress isa) {
            return isa.getAddress();
        }
        throw new IllegalArgumentException("client address: " + a + " (expected: an IP socket address)");
    }
}
