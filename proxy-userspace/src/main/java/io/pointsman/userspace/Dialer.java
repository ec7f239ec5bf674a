package io.pointsman.userspace;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import java.net.InetSocketAddress;

/** Opens the endpoint side of a relayed TCP connection. Tests bring their own. */
interface Dialer {

    /**
     * Connects to {@code endpoint} on {@code client}'s event loop (so both halves of a connection
     * share one thread), with {@code handler} in the new channel's pipeline and reading off.
     */
    ChannelFuture dial(Channel client, InetSocketAddress endpoint, ChannelHandler handler);
}
