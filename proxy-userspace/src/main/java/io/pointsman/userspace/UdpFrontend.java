package io.pointsman.userspace;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import io.pointsman.core.model.Protocol;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handler of a UDP listener: one {@link UdpSession} per client address, created on the
 * client's first datagram with an endpoint from the pool, ended after the idle timeout. Runs on
 * the listener's event loop only; sessions live on the same loop.
 */
final class UdpFrontend extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(UdpFrontend.class);

    private final EndpointPool pool;
    private final RelayRuntime runtime;
    private final Map<InetSocketAddress, UdpSession> sessions = new HashMap<>();
    private Channel listener;

    UdpFrontend(EndpointPool pool, RelayRuntime runtime) {
        this.pool = pool;
        this.runtime = runtime;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        listener = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket packet)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        InetSocketAddress client = packet.sender();
        UdpSession session = sessions.get(client);
        if (session == null) {
            session = open(client, packet.recipient());
            if (session == null) {
                packet.release();
                return;
            }
        }
        session.fromClient(packet.content());
    }

    private UdpSession open(InetSocketAddress client, InetSocketAddress recipient) {
        Balancer balancer = pool.forClient(client.getAddress());
        List<InetSocketAddress> candidates = balancer.candidates(client.getAddress());
        if (candidates.isEmpty()) {
            runtime.metrics().noEndpoints(Protocol.UDP);
            if (pool.shouldWarn()) {
                log.warn("{}: no endpoints, dropping datagrams (e.g. from {})", pool, client);
            }
            return null;
        }
        InetSocketAddress endpoint = candidates.get(0);
        balancer.connected(client.getAddress(), endpoint);
        // Replies must leave from the address the client wrote to (after the portal's REDIRECT),
        // or conntrack cannot map them back to the service address; see UdpSession.
        InetSocketAddress replyFrom = replyAddress(recipient);
        UdpSession session = new UdpSession(this, listener, client, replyFrom, endpoint, runtime);
        sessions.put(client, session);
        runtime.metrics().opened(Protocol.UDP);
        session.start();
        return session;
    }

    /**
     * The local address replies should come from, when the listener is a wildcard socket and the
     * datagram said where it was sent (IP_RECVORIGDSTADDR, epoll only); null to reply through the
     * listener itself (which then replies from the kernel's choice of source address).
     */
    private InetSocketAddress replyAddress(InetSocketAddress recipient) {
        InetSocketAddress local = (InetSocketAddress) listener.localAddress();
        if (recipient == null || local == null || !local.getAddress().isAnyLocalAddress()
                || recipient.getAddress().isAnyLocalAddress() || recipient.getPort() != local.getPort()) {
            return null;
        }
        return recipient;
    }

    /** A session ended (idle, endpoint error, or endpoint removed). */
    void removed(UdpSession session) {
        if (sessions.remove(session.client(), session)) {
            runtime.metrics().closed(Protocol.UDP);
        }
    }

    /** Ends the sessions whose endpoint is no longer in {@code current}; their clients get a new one next time. */
    void retainEndpoints(Set<InetSocketAddress> current) {
        List<UdpSession> gone = new ArrayList<>();
        for (UdpSession s : sessions.values()) {
            if (!current.contains(s.endpoint())) {
                gone.add(s);
            }
        }
        gone.forEach(UdpSession::close);
        if (!gone.isEmpty()) {
            log.debug("{}: ended {} UDP session(s) to removed endpoints", pool, gone.size());
        }
    }

    int sessionCount() {
        return sessions.size();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        new ArrayList<>(sessions.values()).forEach(UdpSession::close);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A listener socket error (e.g. ICMP for a reply sent through it) is no reason to stop serving.
        log.debug("{}: UDP listener error: {}", pool, cause.toString());
    }

    EndpointPool pool() {
        return pool;
    }
}
