package io.pointsman.userspace;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class BalancerTest {
    private static final InetSocketAddress A = ep("10.244.1.2", 8080);
    private static final InetSocketAddress B = ep("10.244.1.3", 8080);
    private static final InetSocketAddress C = ep("10.244.1.4", 8080);
    private static final InetAddress CLIENT_1 = NodePortAddresses.literal("192.168.77.2");
    private static final InetAddress CLIENT_2 = NodePortAddresses.literal("192.168.77.3");

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final Balancer balancer = new Balancer(now::get);

    static InetSocketAddress ep(String ip, int port) {
        return new InetSocketAddress(NodePortAddresses.literal(ip), port);
    }

    private InetSocketAddress pick(InetAddress client) {
        InetSocketAddress ep = balancer.candidates(client).get(0);
        balancer.connected(client, ep);
        return ep;
    }

    @Test
    void noEndpointsMeansNoCandidates() {
        assertThat(balancer.candidates(CLIENT_1)).isEmpty();
        balancer.update(List.of(A), 0);
        balancer.update(List.of(), 0);
        assertThat(balancer.candidates(CLIENT_1)).isEmpty();
    }

    @Test
    void roundRobinVisitsEveryEndpointInTurn() {
        balancer.update(List.of(A, B, C), 0);
        List<InetSocketAddress> picks = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            picks.add(pick(CLIENT_1));
        }
        assertThat(picks).containsExactly(A, B, C, A, B, C, A, B, C);
    }

    @Test
    void candidatesAfterThePickAreTheOthersInRotationOrderEachOnce() {
        balancer.update(List.of(A, B, C), 0);
        assertThat(balancer.candidates(CLIENT_1)).containsExactly(A, B, C);
        assertThat(balancer.candidates(CLIENT_1)).containsExactly(B, C, A);
        assertThat(balancer.candidates(CLIENT_1)).containsExactly(C, A, B);
    }

    @Test
    void attemptsAreCappedSoAClientNeverWaitsForEveryEndpoint() {
        List<InetSocketAddress> many = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            many.add(ep("10.244.2." + (i + 1), 80));
        }
        balancer.update(many, 0);
        assertThat(balancer.candidates(CLIENT_1)).hasSize(Balancer.MAX_ATTEMPTS).doesNotHaveDuplicates();
    }

    @Test
    void roundRobinSpreadsEvenlyAcrossManyConnections() {
        balancer.update(List.of(A, B), 0);
        Map<InetSocketAddress, Integer> counts = new TreeMap<>((x, y) -> x.toString().compareTo(y.toString()));
        for (int i = 0; i < 1000; i++) {
            counts.merge(pick(CLIENT_1), 1, Integer::sum);
        }
        assertThat(counts).containsEntry(A, 500).containsEntry(B, 500);
    }

    @Test
    void clientIpAffinityKeepsAClientOnItsEndpointWhileOthersRotate() {
        balancer.update(List.of(A, B, C), 60);
        InetSocketAddress first = pick(CLIENT_1);
        for (int i = 0; i < 10; i++) {
            now.addAndGet(1_000_000_000L);
            assertThat(pick(CLIENT_1)).as("connection %d of client 1", i).isEqualTo(first);
        }
        // Another client is not tied to client 1's endpoint: it gets the next in rotation.
        assertThat(pick(CLIENT_2)).isNotEqualTo(first);
    }

    @Test
    void affinityFallsBackToTheOtherEndpointsWhenTheStickyOneFails() {
        balancer.update(List.of(A, B, C), 60);
        InetSocketAddress first = pick(CLIENT_1);
        List<InetSocketAddress> c = balancer.candidates(CLIENT_1);
        assertThat(c.get(0)).isEqualTo(first);
        assertThat(c).hasSize(3).doesNotHaveDuplicates();
    }

    @Test
    void affinityExpiresAfterTheTimeoutWithoutUse() {
        balancer.update(List.of(A, B), 10);
        InetSocketAddress first = pick(CLIENT_1);
        now.addAndGet(9_000_000_000L);
        assertThat(pick(CLIENT_1)).as("within 10 s").isEqualTo(first);
        // Each use renews it; 10 s after the last use it is gone.
        now.addAndGet(10_000_000_000L);
        assertThat(balancer.expireAffinity()).isZero();
        List<InetSocketAddress> next = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            next.add(balancer.candidates(CLIENT_1).get(0));
        }
        assertThat(next).as("after expiry the client rotates like anyone").contains(A, B);
    }

    @Test
    void expiredEntryIsIgnoredEvenBeforeTheSweep() {
        balancer.update(List.of(A, B), 5);
        InetSocketAddress first = pick(CLIENT_1);
        now.addAndGet(5_000_000_000L);
        assertThat(balancer.affinityEntries()).isEqualTo(1);
        List<InetSocketAddress> picks = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            picks.add(balancer.candidates(CLIENT_1).get(0));
        }
        assertThat(picks).containsExactlyInAnyOrder(A, B);
        assertThat(first).isIn(A, B);
    }

    @Test
    void affinityToARemovedEndpointIsForgotten() {
        balancer.update(List.of(A, B), 60);
        InetSocketAddress first = pick(CLIENT_1);
        InetSocketAddress other = first.equals(A) ? B : A;
        balancer.update(List.of(other, C), 60);
        assertThat(balancer.affinityEntries()).isZero();
        assertThat(balancer.candidates(CLIENT_1)).doesNotContain(first);
    }

    @Test
    void turningAffinityOffForgetsEveryEntry() {
        balancer.update(List.of(A, B), 60);
        pick(CLIENT_1);
        pick(CLIENT_2);
        balancer.update(List.of(A, B), 0);
        assertThat(balancer.affinityEntries()).isZero();
        assertThat(List.of(pick(CLIENT_1), pick(CLIENT_1))).containsExactlyInAnyOrder(A, B);
    }
}
