package io.pointsman.ipvs.netlink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.ipvs.kernel.InterfaceAddress;
import io.pointsman.ipvs.kernel.LinkClient;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The jnr-ffi socket against the running kernel, read-only (no root needed, nothing changes):
 * the generic netlink controller, an unknown family's error reply, link and address dumps.
 */
class NetlinkSocketHostTest {

    @Test
    void resolvesTheControllerItself() throws Exception {
        try (NetlinkSocket s = NetlinkSocket.open(Netlink.NETLINK_GENERIC)) {
            GenericNetlink.Family f = GenericNetlink.resolve(s, "nlctrl");
            assertThat(f.id()).isEqualTo(Netlink.GENL_ID_CTRL);
            assertThat(f.name()).isEqualTo("nlctrl");
            // Sequence numbers advance; a second request on the same socket still pairs with its reply.
            assertThat(GenericNetlink.resolve(s, "nlctrl").id()).isEqualTo(Netlink.GENL_ID_CTRL);
        }
    }

    @Test
    void anUnknownFamilyIsAnEnoentNamingTheRequest() throws Exception {
        try (NetlinkSocket s = NetlinkSocket.open(Netlink.NETLINK_GENERIC)) {
            assertThatThrownBy(() -> GenericNetlink.resolve(s, "pointsman-none"))
                    .isInstanceOf(NetlinkException.class)
                    .hasMessageStartingWith("CTRL_CMD_GETFAMILY pointsman-none: ENOENT (2)")
                    .satisfies(e -> assertThat(((NetlinkException) e).errno()).isEqualTo(2));
            // The socket stays usable after an error reply.
            assertThat(GenericNetlink.resolve(s, "nlctrl").id()).isEqualTo(Netlink.GENL_ID_CTRL);
        }
    }

    @Test
    void findsLoopbackAndItsAddressThroughRtnetlink() throws Exception {
        try (LinkClient links = LinkClient.open()) {
            int lo = links.linkIndex("lo");
            assertThat(lo).isEqualTo(1);
            assertThat(links.linkIndex("pm-no-such0")).isEqualTo(-1);
            List<InterfaceAddress> addrs = links.addresses(lo);
            assertThat(addrs).anySatisfy(a -> {
                assertThat(a.address()).isEqualTo("127.0.0.1");
                assertThat(a.prefixLength()).isEqualTo(8);
                assertThat(a.label()).isEqualTo("lo");
            });
        }
    }
}
