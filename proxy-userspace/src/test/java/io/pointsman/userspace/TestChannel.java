package io.pointsman.userspace;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * An EmbeddedChannel that looks like a TCP socket to the relay: an IP remote address, reading
 * off until asked (each request is counted), and half-close that is recorded.
 */
final class TestChannel extends EmbeddedChannel implements DuplexChannel {
    private final InetSocketAddress remote;
    int readRequests;
    boolean outputShutdown;
    boolean inputShutdown;

    TestChannel(InetSocketAddress remote) {
        super(false, false);
        this.remote = remote;
        config().setAutoRead(false);
    }

    /** Registers (firing channelActive through whatever handlers were added). */
    TestChannel start() {
        try {
            register();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    @Override
    protected SocketAddress remoteAddress0() {
        return remote;
    }

    @Override
    protected void doBeginRead() throws Exception {
        readRequests++;
        super.doBeginRead();
    }

    @Override
    public boolean isInputShutdown() {
        return inputShutdown;
    }

    @Override
    public ChannelFuture shutdownInput() {
        inputShutdown = true;
        return newSucceededFuture();
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        inputShutdown = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShutdown;
    }

    @Override
    public ChannelFuture shutdownOutput() {
        outputShutdown = true;
        return newSucceededFuture();
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        outputShutdown = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
        return inputShutdown && outputShutdown;
    }

    @Override
    public ChannelFuture shutdown() {
        inputShutdown = true;
        outputShutdown = true;
        return newSucceededFuture();
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        shutdown();
        return promise.setSuccess();
    }
}
