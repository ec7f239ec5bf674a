package io.pointsman.userspace;

import io.netty.channel.ChannelFactory;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.nio.channels.spi.SelectorProvider;

/**
 * The Netty transport the relay runs on: native epoll where it loads (Linux), NIO otherwise.
 * Sockets are opened with an explicit address family, so an IPv4 listener is a plain AF_INET
 * socket and never a dual-stack one by accident.
 */
enum Transport {
    EPOLL {
        @Override
        IoHandlerFactory ioHandlerFactory() {
            return EpollIoHandler.newFactory();
        }

        @Override
        ChannelFactory<ServerSocketChannel> serverSocket(SocketProtocolFamily family) {
            return () -> new EpollServerSocketChannel(family);
        }

        @Override
        ChannelFactory<SocketChannel> socket(SocketProtocolFamily family) {
            return () -> new EpollSocketChannel(family);
        }

        @Override
        ChannelFactory<DatagramChannel> datagram(SocketProtocolFamily family) {
            return () -> new EpollDatagramChannel(family);
        }
    },
    NIO {
        @Override
        IoHandlerFactory ioHandlerFactory() {
            return NioIoHandler.newFactory();
        }

        @Override
        ChannelFactory<ServerSocketChannel> serverSocket(SocketProtocolFamily family) {
            return () -> new NioServerSocketChannel(SelectorProvider.provider(), family);
        }

        @Override
        ChannelFactory<SocketChannel> socket(SocketProtocolFamily family) {
            return () -> new NioSocketChannel(SelectorProvider.provider(), family);
        }

        @Override
        ChannelFactory<DatagramChannel> datagram(SocketProtocolFamily family) {
            return () -> new NioDatagramChannel(SelectorProvider.provider(), family);
        }
    };

    abstract IoHandlerFactory ioHandlerFactory();

    abstract ChannelFactory<ServerSocketChannel> serverSocket(SocketProtocolFamily family);

    abstract ChannelFactory<SocketChannel> socket(SocketProtocolFamily family);

    abstract ChannelFactory<DatagramChannel> datagram(SocketProtocolFamily family);

    /** Epoll when its native library loads, unless {@code preferNio}. */
    static Transport choose(boolean preferNio) {
        return !preferNio && Epoll.isAvailable() ? EPOLL : NIO;
    }

    /** Why epoll is not in use, for the start-up log line. */
    static String whyNotEpoll() {
        Throwable cause = Epoll.unavailabilityCause();
        return cause == null ? "NIO was asked for" : cause.toString();
    }
}
