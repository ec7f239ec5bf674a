package io.pointsman.userspace;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's machinery: one event loop group sized to the machine, the transport, and the
 * socket settings every listener and dial uses. Both halves of a relayed connection run on the
 * event loop that accepted the client, so relaying never crosses threads.
 */
final class RelayRuntime implements Dialer, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RelayRuntime.class);
    /** Read sizes adapt between these; the largest bounds what one connection holds per direction. */
    static final int MIN_READ = 2048;
    static final int INITIAL_READ = 16 * 1024;
    static final int MAX_READ = 128 * 1024;
    /** Shared: it makes one size-tracking handle per channel. TCP_NODELAY needs no option: Netty sets it on every socket. */
    private static final AdaptiveRecvByteBufAllocator READ_SIZES =
            new AdaptiveRecvByteBufAllocator(MIN_READ, INITIAL_READ, MAX_READ);

    private final Transport transport;
    private final EventLoopGroup group;
    private final RelayOptions options;
    private final RelayMetrics metrics;
    private final int threads;
    private final List<EventLoop> loops = new ArrayList<>();

    RelayRuntime(Transport transport, int threads, RelayOptions options, RelayMetrics metrics) {
        if (threads < 1) {
            throw new IllegalArgumentException("event loop threads: " + threads + " (expected: >= 1)");
        }
        this.transport = transport;
        this.threads = threads;
        this.options = options;
        this.metrics = metrics;
        this.group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("userspace-relay", true),
                transport.ioHandlerFactory());
        for (EventExecutor e : group) {
            loops.add((EventLoop) e);
        }
    }

    /** The machine's size: one event loop per available processor. */
    static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    Transport transport() {
        return transport;
    }

    int threads() {
        return threads;
    }

    RelayOptions options() {
        return options;
    }

    RelayMetrics metrics() {
        return metrics;
    }

    EventLoopGroup group() {
        return group;
    }

    static SocketProtocolFamily familyOf(InetAddress a) {
        return a instanceof Inet4Address ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6;
    }

    /**
     * Starts binding a TCP listener whose connections are relayed to {@code pool}. With epoll it is
     * one socket per event loop, all on one port (SO_REUSEPORT): the kernel spreads connections
     * across them, and each connection stays on the loop that accepted it, so no connection is
     * handed between threads. With NIO it is one socket whose connections are spread over the loops.
     */
    Future<List<Channel>> bindTcp(InetSocketAddress address, EndpointPool pool) {
        Promise<List<Channel>> result = ImmediateEventExecutor.INSTANCE.newPromise();
        if (transport != Transport.EPOLL || loops.size() == 1) {
            ChannelFuture f = serverBootstrap(pool, address, group, group, false).bind(address);
            f.addListener((ChannelFutureListener) done -> {
                if (done.isSuccess()) {
                    result.setSuccess(List.of(done.channel()));
                } else {
                    result.setFailure(done.cause());
                }
            });
            return result;
        }
        // The first shard picks the port (the requested one, or an ephemeral one); the others join it.
        serverBootstrap(pool, address, loops.get(0), loops.get(0), true).bind(address)
                .addListener((ChannelFutureListener) first -> {
                    if (!first.isSuccess()) {
                        result.setFailure(first.cause());
                        return;
                    }
                    int port = ((InetSocketAddress) first.channel().localAddress()).getPort();
                    InetSocketAddress same = new InetSocketAddress(address.getAddress(), port);
                    List<ChannelFuture> shards = new ArrayList<>();
                    shards.add(first);
                    for (int i = 1; i < loops.size(); i++) {
                        shards.add(serverBootstrap(pool, same, loops.get(i), loops.get(i), true).bind(same));
                    }
                    AtomicInteger left = new AtomicInteger(shards.size() - 1);
                    for (ChannelFuture shard : shards.subList(1, shards.size())) {
                        shard.addListener((ChannelFutureListener) x -> {
                            if (left.decrementAndGet() > 0) {
                                return;
                            }
                            Throwable failure = null;
                            for (ChannelFuture s : shards) {
                                if (!s.isSuccess()) {
                                    failure = s.cause();
                                }
                            }
                            if (failure == null) {
                                result.setSuccess(shards.stream().map(ChannelFuture::channel).toList());
                            } else {
                                shards.forEach(s -> s.channel().close());
                                result.setFailure(failure);
                            }
                        });
                    }
                });
        return result;
    }

    private ServerBootstrap serverBootstrap(EndpointPool pool, InetSocketAddress address, EventLoopGroup acceptor,
                                            EventLoopGroup children, boolean reusePort) {
        Duration idle = options.tcpIdleTimeout();
        ServerBootstrap b = new ServerBootstrap()
                .group(acceptor, children)
                .channelFactory(transport.serverSocket(familyOf(address.getAddress())))
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READ_SIZES);
        if (reusePort) {
            b.option(EpollChannelOption.SO_REUSEPORT, true);
        }
        return b.childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                if (!idle.isZero()) {
                    ch.pipeline().addLast("idle", new IdleStateHandler(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS));
                }
                ch.pipeline().addLast("frontend", new TcpFrontend(pool, RelayRuntime.this, metrics));
            }
        });
    }

    /** Starts binding a UDP listener (one socket) whose client sessions are relayed to {@code pool}. */
    Future<List<Channel>> bindUdp(InetSocketAddress address, EndpointPool pool) {
        Promise<List<Channel>> result = ImmediateEventExecutor.INSTANCE.newPromise();
        bindUdpSocket(address, pool).addListener((ChannelFutureListener) done -> {
            if (done.isSuccess()) {
                result.setSuccess(List.of(done.channel()));
            } else {
                result.setFailure(done.cause());
            }
        });
        return result;
    }

    private ChannelFuture bindUdpSocket(InetSocketAddress address, EndpointPool pool) {
        Bootstrap b = new Bootstrap()
                .group(group)
                .channelFactory(transport.datagram(familyOf(address.getAddress())))
                .option(ChannelOption.SO_REUSEADDR, true)
                .handler(new UdpFrontend(pool, this));
        if (transport == Transport.EPOLL && address.getAddress() instanceof Inet4Address) {
            // Each datagram tells the address it was delivered to; replies then leave from it.
            b.option(EpollChannelOption.IP_RECVORIGDSTADDR, true);
        }
        return b.bind(address);
    }

    /** Dials an endpoint for a client connection, on the client's event loop. */
    @Override
    public ChannelFuture dial(Channel client, InetSocketAddress endpoint, ChannelHandler handler) {
        return new Bootstrap()
                .group(client.eventLoop())
                .channelFactory(transport.socket(familyOf(endpoint.getAddress())))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, options.connectTimeoutMillis())
                .option(ChannelOption.RCVBUF_ALLOCATOR, READ_SIZES)
                .handler(handler)
                .connect(endpoint);
    }

    /**
     * A connected UDP socket on {@code loop}: to an endpoint ({@code local} null, with the idle
     * timeout when {@code idle}), or a reply socket to a client bound to {@code local} (sharing the
     * listener's port, hence SO_REUSEADDR).
     */
    ChannelFuture connectUdp(EventLoop loop, InetSocketAddress remote, InetSocketAddress local, boolean idle,
                             ChannelHandler handler) {
        Duration timeout = options.udpIdleTimeout();
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channelFactory(transport.datagram(familyOf(remote.getAddress())))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (idle) {
                            ch.pipeline().addLast("idle", new IdleStateHandler(0, 0, timeout.toMillis(), TimeUnit.MILLISECONDS));
                        }
                        ch.pipeline().addLast("session", handler);
                    }
                });
        if (local != null) {
            b.option(ChannelOption.SO_REUSEADDR, true);
            return b.connect(remote, local);
        }
        return b.connect(remote);
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        log.debug("relay event loops stopped");
    }
}
