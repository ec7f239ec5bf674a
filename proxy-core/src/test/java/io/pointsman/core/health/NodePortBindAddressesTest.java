package io.pointsman.core.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NodePortBindAddressesTest {
    private static final Set<IpFamily> V4 = Set.of(IpFamily.IPv4);
    private static final Set<IpFamily> DUAL = Set.of(IpFamily.IPv4, IpFamily.IPv6);
    private static final List<String> LOCAL = List.of("127.0.0.1", "::1", "10.0.0.5", "192.168.1.7", "fd00::5");
    private static final NodeInfo NODE = new NodeInfo("n1", Map.of(), List.of("192.168.1.7", "10.0.0.5", "fd00::5"),
            List.of());

    @Test
    void noAddressesMeansTheWildcardOfTheServedFamilies() {
        assertThat(NodePortBindAddresses.select(List.of(), V4, LOCAL, NODE)).containsExactly("0.0.0.0");
        // One dual-stack socket: binding 0.0.0.0 as well would collide with it.
        assertThat(NodePortBindAddresses.select(List.of(), DUAL, LOCAL, NODE)).containsExactly("::");
        assertThat(NodePortBindAddresses.select(List.of("0.0.0.0/0"), V4, LOCAL, NODE)).containsExactly("0.0.0.0");
    }

    @Test
    void cidrsSelectAmongTheInterfaceAddresses() {
        assertThat(NodePortBindAddresses.select(List.of("10.0.0.0/8", "127.0.0.0/8"), V4, LOCAL, NODE))
                .containsExactly("127.0.0.1", "10.0.0.5");
        assertThat(NodePortBindAddresses.select(List.of("172.16.0.0/12"), V4, LOCAL, NODE)).isEmpty();
    }

    @Test
    void aFamilyWithoutItsOwnCidrsMatchesAll() {
        assertThat(NodePortBindAddresses.select(List.of("10.0.0.0/8"), DUAL, LOCAL, NODE))
                .containsExactly("10.0.0.5", "::1", "fd00::5");
        assertThat(NodePortBindAddresses.select(List.of("fd00::/64"), DUAL, LOCAL, NODE))
                .containsExactly("0.0.0.0", "fd00::5");
        assertThat(NodePortBindAddresses.select(List.of("10.0.0.0/8", "fd00::/64"), DUAL, LOCAL, NODE))
                .containsExactly("10.0.0.5", "fd00::5");
    }

    @Test
    void primaryIsTheNodesFirstAddressOfEachFamily() {
        assertThat(NodePortBindAddresses.select(List.of("primary"), DUAL, List.of(), NODE))
                .containsExactly("192.168.1.7", "fd00::5");
        assertThat(NodePortBindAddresses.select(List.of("primary", "127.0.0.0/8"), V4, LOCAL, NODE))
                .containsExactly("127.0.0.1", "192.168.1.7");
        assertThat(NodePortBindAddresses.select(List.of("primary"), V4, LOCAL, NodeInfo.named("n1"))).isEmpty();
    }
}
