package io.pointsman.userspace;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.pointsman.core.model.Protocol;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UDP client of one listener: an upstream socket connected to the chosen endpoint, and, when
 * the listener is a wildcard socket, a reply socket bound to the exact address the client's
 * datagram was delivered to and connected to the client.
 *
 * <p>Why the reply socket: the portal REDIRECT rewrote the datagram's destination (to the
 * incoming interface's address, or 127.0.0.1 for the node's own traffic). Conntrack turns a reply
 * back into one from the service address only when the reply leaves from exactly that rewritten
 * address, and a wildcard socket lets the kernel pick a source address instead (for the node's
 * own traffic it picks the client's address, never 127.0.0.1). The connected reply socket also
 * receives the client's further datagrams directly. Without one (NIO, IPv6, or a listener bound
 * to one address) replies go through the listener.
 */
final class UdpSession {
    private static final Logger log = LoggerFactory.getLogger(UdpSession.class);
    /** Datagrams held while the session's sockets are being set up; more are dropped. */
    static final int MAX_PENDING = 64;

    private final UdpFrontend frontend;
    private final Channel listener;
    private final InetSocketAddress client;
    private final InetSocketAddress replyFrom;
    private final InetSocketAddress endpoint;
    private final RelayRuntime runtime;
    private final ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
    private Channel upstream;
    private Channel reply;
    private int setupsLeft;
    private boolean closed;

    UdpSession(UdpFrontend frontend, Channel listener, InetSocketAddress client, InetSocketAddress replyFrom,
               InetSocketAddress endpoint, RelayRuntime runtime) {
        this.frontend = frontend;
        this.listener = listener;
        this.client = client;
        this.replyFrom = replyFrom;
        this.endpoint = endpoint;
        this.runtime = runtime;
    }

    InetSocketAddress client() {
        return client;
    }

    InetSocketAddress endpoint() {
        return endpoint;
    }

    void start() {
        setupsLeft = replyFrom == null ? 1 : 2;
        ChannelFuture up = runtime.connectUdp(listener.eventLoop(), endpoint, null, true, new FromEndpoint());
        upstream = up.channel();
        up.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                runtime.metrics().dialFailure(Protocol.UDP, RelayMetrics.DialFailure.of(f.cause()));
                log.debug("{}: UDP socket to {} failed: {}", frontend.pool(), endpoint, f.cause().toString());
                close();
                return;
            }
            setupDone();
        });
        if (replyFrom != null) {
            ChannelFuture r = runtime.connectUdp(listener.eventLoop(), client, replyFrom, false, new FromClient());
            reply = r.channel();
            r.addListener((ChannelFutureListener) f -> {
                if (!f.isSuccess()) {
                    log.debug("{}: reply socket {} -> {} failed, replying through the listener: {}", frontend.pool(),
                            replyFrom, client, f.cause().toString());
                    reply = null;
                }
                setupDone();
            });
        }
    }

    private void setupDone() {
        if (closed || --setupsLeft > 0) {
            return;
        }
        ByteBuf b;
        while ((b = pending.poll()) != null) {
            upstream.write(b);
        }
        upstream.flush();
    }

    /** A datagram from the client; takes ownership of {@code content}. */
    void fromClient(ByteBuf content) {
        if (closed) {
            content.release();
            return;
        }
        runtime.metrics().toEndpoint(Protocol.UDP, content.readableBytes());
        if (setupsLeft > 0) {
            if (pending.size() < MAX_PENDING) {
                pending.add(content);
            } else {
                runtime.metrics().udpDropped();
                content.release();
            }
            return;
        }
        if (!upstream.isWritable()) {
            // UDP may drop: better than queueing without bound behind a slow socket.
            runtime.metrics().udpDropped();
            content.release();
            return;
        }
        upstream.writeAndFlush(content, upstream.voidPromise());
    }

    /** A datagram from the endpoint, back to the client from the service's address. */
    private void toClient(ByteBuf content) {
        runtime.metrics().toClient(Protocol.UDP, content.readableBytes());
        Channel r = reply;
        if (r != null && r.isActive()) {
            if (!r.isWritable()) {
                runtime.metrics().udpDropped();
                content.release();
                return;
            }
            r.writeAndFlush(content, r.voidPromise());
        } else {
            listener.writeAndFlush(new DatagramPacket(content, client), listener.voidPromise());
        }
    }

    void close() {
        if (closed) {
            return;
        }
        closed = true;
        ByteBuf b;
        while ((b = pending.poll()) != null) {
            b.release();
        }
        if (upstream != null) {
            upstream.close();
        }
        if (reply != null) {
            reply.close();
        }
        frontend.removed(this);
    }

    private static ByteBuf contentOf(Object msg) {
        if (msg instanceof DatagramPacket p) {
            return p.content();
        }
        if (msg instanceof ByteBuf b) {
            return b;
        }
        ReferenceCountUtil.release(msg);
        return null;
    }

    /** The upstream socket's handler: replies from the endpoint, idleness, ICMP errors. */
    private final class FromEndpoint extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf content = contentOf(msg);
            if (content == null) {
                return;
            }
            if (closed) {
                content.release();
                return;
            }
            toClient(content);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                close();
            } else {
                super.userEventTriggered(ctx, evt);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // ICMP port unreachable: the endpoint is not listening. The next datagram opens a new session.
            runtime.metrics().dialFailure(Protocol.UDP, RelayMetrics.DialFailure.of(cause));
            log.debug("{}: UDP session {} -> {} ended: {}", frontend.pool(), client, endpoint, cause.toString());
            close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            close();
        }
    }

    /** The reply socket's handler: the client's further datagrams arrive here once it is connected. */
    private final class FromClient extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf content = contentOf(msg);
            if (content != null) {
                fromClient(content);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("{}: reply socket to {} failed: {}", frontend.pool(), client, cause.toString());
        }
    }
}
