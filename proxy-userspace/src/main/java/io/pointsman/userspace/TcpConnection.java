package io.pointsman.userspace;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.DuplexChannel;

/**
 * The two halves of one relayed TCP connection: the client's channel and the endpoint's. Both
 * live on one event loop, so this needs no locking. Ends the way the peers end: a FIN is passed
 * on as a half-close, a close after flushing what is in flight, a reset as a reset.
 */
final class TcpConnection {
    private final Channel client;
    private Channel endpoint;
    private boolean clientDone;
    private boolean endpointDone;

    TcpConnection(Channel client) {
        this.client = client;
    }

    /** The endpoint side is connected. */
    void attach(Channel endpointChannel) {
        this.endpoint = endpointChannel;
    }

    Channel client() {
        return client;
    }

    Channel endpoint() {
        return endpoint;
    }

    /** The other half of {@code ch}, or null when it does not exist (yet). */
    Channel peerOf(Channel ch) {
        if (ch == client) {
            return endpoint;
        }
        return ch == endpoint ? client : null;
    }

    /**
     * {@code ch} read EOF: its peer has sent everything. Passes the half-close on (FIN to the other
     * side); once both directions are done the connection closes. No write is pending at this point:
     * a read (which found EOF) only starts after the previous write completed.
     */
    void inputShutdown(Channel ch) {
        if (ch == client) {
            clientDone = true;
        } else if (ch == endpoint) {
            endpointDone = true;
        } else {
            return;
        }
        if (clientDone && endpointDone) {
            // Both sides sent everything and nothing is in flight: close at once.
            client.close();
            endpoint.close();
            return;
        }
        Channel peer = peerOf(ch);
        if (peer == null || !peer.isActive()) {
            ch.close();
            return;
        }
        if (peer instanceof DuplexChannel duplex) {
            duplex.shutdownOutput().addListener((ChannelFutureListener) f -> {
                if (!f.isSuccess()) {
                    close();
                }
            });
        } else {
            close();
        }
    }

    /** {@code ch} closed: the other half closes after flushing what it still has in flight. */
    void inactive(Channel ch) {
        Channel peer = peerOf(ch);
        if (peer != null && peer.isOpen()) {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Closes both halves gracefully (FIN after pending writes). */
    void close() {
        closeGracefully(client);
        if (endpoint != null) {
            closeGracefully(endpoint);
        }
    }

    /** An error (e.g. a reset) on {@code ch}: both halves are reset, so each peer learns at once. */
    void abort() {
        reset(client);
        if (endpoint != null) {
            reset(endpoint);
        }
    }

    private static void closeGracefully(Channel ch) {
        if (ch.isOpen()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Closes with SO_LINGER 0, so the peer gets a RST instead of a FIN. */
    static void reset(Channel ch) {
        if (ch.isOpen()) {
            try {
                ch.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (RuntimeException e) {
                // Not a socket (tests) or already gone: a plain close is the best left.
            }
            ch.close();
        }
    }
}
