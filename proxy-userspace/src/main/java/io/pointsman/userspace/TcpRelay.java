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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies one direction of a relayed TCP connection: what this channel reads is written to its
 * peer. Backpressure: the channel reads with AUTO_READ off and asks for the next chunk only when
 * the write of the previous one completed, so a slow reader on the far side holds at most one
 * chunk per direction in the relay; the rest waits in the kernel's socket buffers, and the
 * sender's TCP window closes.
 */
final class TcpRelay extends ChannelInboundHandlerAdapter implements ChannelFutureListener {
    private static final Logger log = LoggerFactory.getLogger(TcpRelay.class);

    private final TcpConnection connection;
    private final boolean fromClient;
    private final RelayMetrics metrics;
    private Channel channel;
    /** The write of the last chunk read; a half-close waits for it (shutdownOutput would fail it). */
    private ChannelFuture lastWrite;

    /**
     * @param fromClient true for the client's channel (bytes go to the endpoint), false for the
     *     endpoint's channel (bytes go back to the client)
     */
    TcpRelay(TcpConnection connection, boolean fromClient, RelayMetrics metrics) {
        this.connection = connection;
        this.fromClient = fromClient;
        this.metrics = metrics;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Channel peer = connection.peerOf(ctx.channel());
        if (peer == null) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof ByteBuf buf) {
            int n = buf.readableBytes();
            if (fromClient) {
                metrics.toEndpoint(Protocol.TCP, n);
            } else {
                metrics.toClient(Protocol.TCP, n);
            }
        }
        lastWrite = peer.writeAndFlush(msg);
        lastWrite.addListener(this);
    }

    /** The write of the last chunk finished: read the next one, or end both halves if it failed. */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (future.isSuccess()) {
            channel.read();
        } else {
            connection.close();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof ChannelInputShutdownEvent) {
            // Normally nothing is in flight here (reads wait for writes), but epoll reads on a FIN
            // even when no read was asked for.
            ChannelFuture pending = lastWrite;
            Channel ch = ctx.channel();
            if (pending != null && !pending.isDone()) {
                pending.addListener(f -> connection.inputShutdown(ch));
            } else {
                connection.inputShutdown(ch);
            }
        } else if (evt instanceof IdleStateEvent) {
            log.debug("closing idle connection {} <-> {}", connection.client().remoteAddress(),
                    connection.endpoint() == null ? "(not connected)" : connection.endpoint().remoteAddress());
            connection.close();
        } else {
            super.userEventTriggered(ctx, evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        connection.inactive(ctx.channel());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Resets and broken pipes are how TCP peers leave; not worth more than a debug line.
        log.debug("{} side of {} failed: {}", fromClient ? "client" : "endpoint", ctx.channel(), cause.toString());
        connection.abort();
    }
}
