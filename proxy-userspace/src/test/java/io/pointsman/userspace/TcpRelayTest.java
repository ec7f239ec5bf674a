package io.pointsman.userspace;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePortName;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The TCP relay's logic on EmbeddedChannels: endpoint choice, dial failover, backpressure, half-close. */
class TcpRelayTest {
    private static final InetSocketAddress A = BalancerTest.ep("10.244.1.2", 8080);
    private static final InetSocketAddress B = BalancerTest.ep("10.244.1.3", 8080);
    private static final InetSocketAddress CLIENT = BalancerTest.ep("192.168.77.2", 40000);
    private static final InetSocketAddress OTHER_CLIENT = BalancerTest.ep("192.168.77.9", 40000);

    private final RelayMetrics metrics = new RelayMetrics(new ProxyMetrics("userspace"));
    private final EndpointPool pool = new EndpointPool(new ServicePortName("default", "web", "http", Protocol.TCP), "cluster");
    private final List<InetSocketAddress> dialed = new ArrayList<>();
    private final Map<InetSocketAddress, Throwable> failing = new HashMap<>();
    private final Map<InetSocketAddress, List<TestChannel>> upstreams = new LinkedHashMap<>();
    private final Set<InetSocketAddress> slow = new HashSet<>();
    private final List<HoldWrites> holders = new ArrayList<>();

    /** A dialer that "connects" to EmbeddedChannels, or fails as told. */
    private final Dialer dialer = (client, endpoint, handler) -> {
        dialed.add(endpoint);
        TestChannel up = new TestChannel(endpoint);
        if (slow.contains(endpoint)) {
            HoldWrites h = new HoldWrites();
            holders.add(h);
            up.pipeline().addLast(h);
        }
        up.pipeline().addLast(handler);
        up.start();
        Throwable failure = failing.get(endpoint);
        if (failure != null) {
            up.close();
            return up.newFailedFuture(failure);
        }
        upstreams.computeIfAbsent(endpoint, e -> new ArrayList<>()).add(up);
        return up.newSucceededFuture();
    };

    /** Holds every write (a peer that does not read): the promise completes only when released. */
    static final class HoldWrites extends ChannelOutboundHandlerAdapter {
        final List<ChannelPromise> promises = new ArrayList<>();
        final List<Object> messages = new ArrayList<>();

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            messages.add(msg);
            promises.add(promise);
        }

        @Override
        public void flush(ChannelHandlerContext ctx) {
            // Nothing leaves: the far side is not reading.
        }

        void releaseAll() {
            for (Object m : messages) {
                ((ByteBuf) m).release();
            }
            messages.clear();
            List<ChannelPromise> p = new ArrayList<>(promises);
            promises.clear();
            p.forEach(ChannelPromise::setSuccess);
        }
    }

    private TestChannel accept(InetSocketAddress from) {
        TestChannel client = new TestChannel(from);
        client.pipeline().addLast("frontend", new TcpFrontend(pool, dialer, metrics));
        return client.start();
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    private static String read(TestChannel ch) {
        ByteBuf b = ch.readOutbound();
        if (b == null) {
            return null;
        }
        try {
            return b.toString(StandardCharsets.US_ASCII);
        } finally {
            b.release();
        }
    }

    @Test
    void connectionsGoRoundRobinAndBytesFlowBothWays() {
        pool.balancer(IpFamily.IPv4).update(List.of(A, B), 0);
        TestChannel c1 = accept(CLIENT);
        TestChannel c2 = accept(CLIENT);
        TestChannel c3 = accept(CLIENT);
        assertThat(dialed).containsExactly(A, B, A);
        assertThat(c1.readRequests).as("client reading once connected").isEqualTo(1);

        TestChannel up = upstreams.get(A).get(0);
        c1.writeInbound(text("GET /"));
        assertThat(read(up)).isEqualTo("GET /");
        up.writeInbound(text("200 OK"));
        assertThat(read(c1)).isEqualTo("200 OK");
        assertThat(metrics.bytesToEndpoint(Protocol.TCP)).isEqualTo(5);
        assertThat(metrics.bytesToClient(Protocol.TCP)).isEqualTo(6);
        assertThat(metrics.active(Protocol.TCP)).isEqualTo(3);
        c2.close();
        c3.close();
        assertThat(metrics.active(Protocol.TCP)).isEqualTo(1);
    }

    @Test
    void clientIpAffinitySendsEveryConnectionOfAClientToOneEndpoint() {
        pool.balancer(IpFamily.IPv4).update(List.of(A, B), 10800);
        for (int i = 0; i < 4; i++) {
            accept(CLIENT);
        }
        accept(OTHER_CLIENT);
        assertThat(dialed.subList(0, 4)).containsOnly(dialed.get(0));
        assertThat(dialed.get(4)).as("another client rotates on").isNotEqualTo(dialed.get(0));
    }

    @Test
    void aFailedDialMovesOnToTheNextEndpoint() {
        pool.balancer(IpFamily.IPv4).update(List.of(A, B), 0);
        failing.put(A, new ConnectException("Connection refused: " + A));
        TestChannel client = accept(CLIENT);
        assertThat(dialed).containsExactly(A, B);
        assertThat(client.isActive()).isTrue();
        client.writeInbound(text("hello"));
        assertThat(read(upstreams.get(B).get(0))).isEqualTo("hello");
        assertThat(metrics.dialFailures(Protocol.TCP)).isEqualTo(1);
    }

    @Test
    void aTimedOutDialMovesOnAndIsCountedAsATimeout() {
        pool.balancer(IpFamily.IPv4).update(List.of(A, B), 0);
        failing.put(A, new ConnectTimeoutException("connection timed out: " + A));
        accept(CLIENT);
        assertThat(dialed).containsExactly(A, B);
        assertThat(RelayMetrics.DialFailure.of(failing.get(A))).isEqualTo(RelayMetrics.DialFailure.TIMEOUT);
    }

    @Test
    void whenEveryEndpointFailsTheClientIsClosed() {
        pool.balancer(IpFamily.IPv4).update(List.of(A, B), 0);
        failing.put(A, new ConnectException("refused"));
        failing.put(B, new ConnectException("refused"));
        TestChannel client = accept(CLIENT);
        assertThat(dialed).containsExactly(A, B);
        assertThat(client.isOpen()).isFalse();
        assertThat(metrics.dialFailures(Protocol.TCP)).isEqualTo(2);
    }

    @Test
    void withoutEndpointsTheClientIsClosedAtOnce() {
        TestChannel client = accept(CLIENT);
        assertThat(dialed).isEmpty();
        assertThat(client.isOpen()).isFalse();
    }

    @Test
    void aSlowReaderStopsTheRelayFromReadingMore() {
        pool.balancer(IpFamily.IPv4).update(List.of(A), 0);
        slow.add(A);
        TestChannel client = accept(CLIENT);
        HoldWrites endpointNotReading = holders.get(0);
        int reads = client.readRequests;

        client.writeInbound(text("chunk-1"));
        assertThat(endpointNotReading.messages).hasSize(1);
        assertThat(client.readRequests).as("no read while the write is pending").isEqualTo(reads);

        // Even if more arrived, nothing asked for it: the relay holds one chunk, the kernel the rest.
        endpointNotReading.releaseAll();
        assertThat(client.readRequests).as("next read once the write completed").isEqualTo(reads + 1);

        for (int i = 0; i < 100; i++) {
            client.writeInbound(text("x"));
            endpointNotReading.releaseAll();
        }
        assertThat(client.readRequests).as("one read per completed write, never ahead").isEqualTo(reads + 101);
    }

    @Test
    void theEndpointsSlowReadingHoldsBackTheEndpointToo() {
        pool.balancer(IpFamily.IPv4).update(List.of(A), 0);
        TestChannel client = accept(CLIENT);
        TestChannel up = upstreams.get(A).get(0);
        HoldWrites clientNotReading = new HoldWrites();
        client.pipeline().addFirst(clientNotReading);
        int reads = up.readRequests;
        up.writeInbound(text("response"));
        assertThat(up.readRequests).isEqualTo(reads);
        clientNotReading.releaseAll();
        assertThat(up.readRequests).isEqualTo(reads + 1);
    }

    @Test
    void halfCloseIsPassedOnAndTheConnectionEndsWhenBothSidesAreDone() {
        pool.balancer(IpFamily.IPv4).update(List.of(A), 0);
        TestChannel client = accept(CLIENT);
        TestChannel up = upstreams.get(A).get(0);

        client.writeInbound(text("request"));
        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(up.outputShutdown).as("client's FIN passed on to the endpoint").isTrue();
        assertThat(client.isOpen()).isTrue();
        assertThat(up.isOpen()).isTrue();

        // The endpoint still answers after the client's half-close.
        up.writeInbound(text("response"));
        assertThat(read(client)).isEqualTo("response");

        up.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        client.runPendingTasks();
        up.runPendingTasks();
        assertThat(client.isOpen()).isFalse();
        assertThat(up.isOpen()).isFalse();
    }

    @Test
    void theEndpointsHalfCloseIsPassedOnToTheClient() {
        pool.balancer(IpFamily.IPv4).update(List.of(A), 0);
        TestChannel client = accept(CLIENT);
        TestChannel up = upstreams.get(A).get(0);
        up.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(client.outputShutdown).isTrue();
        assertThat(up.outputShutdown).isFalse();
    }

    @Test
    void aClosedEndpointClosesTheClientAfterFlushing() {
        pool.balancer(IpFamily.IPv4).update(List.of(A), 0);
        TestChannel client = accept(CLIENT);
        TestChannel up = upstreams.get(A).get(0);
        up.writeInbound(text("last words"));
        up.close();
        client.runPendingTasks();
        assertThat(read(client)).isEqualTo("last words");
        assertThat(client.isOpen()).isFalse();
    }

    @Test
    void endpointChangesReachNewConnectionsWithoutTouchingEstablishedOnes() {
        pool.balancer(IpFamily.IPv4).update(List.of(A), 0);
        TestChannel established = accept(CLIENT);
        pool.balancer(IpFamily.IPv4).update(List.of(B), 0);
        accept(CLIENT);
        assertThat(dialed).containsExactly(A, B);
        established.writeInbound(text("still here"));
        assertThat(read(upstreams.get(A).get(0))).isEqualTo("still here");
        assertThat(established.isOpen()).isTrue();
    }
}
