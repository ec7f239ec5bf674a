package io.pointsman.ipvs.kernel;

import static io.pointsman.ipvs.netlink.Bytes.hex;
import static io.pointsman.ipvs.netlink.Bytes.toHex;
import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.ipvs.netlink.Bytes;
import io.pointsman.ipvs.netlink.Message;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * rtnetlink messages against linux/rtnetlink.h, linux/if_link.h and linux/if_addr.h:
 * RTM_NEWLINK 16, RTM_DELLINK 17, RTM_GETLINK 18, RTM_NEWADDR 20, RTM_DELADDR 21, RTM_GETADDR 22;
 * struct ifinfomsg {u8 family; u8 pad; u16 type; int index; u32 flags; u32 change} (16 bytes);
 * struct ifaddrmsg {u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index} (8 bytes);
 * IFLA_IFNAME 3, IFLA_LINKINFO 18 { IFLA_INFO_KIND 1 }; IFA_ADDRESS 1, IFA_LOCAL 2, IFA_LABEL 3.
 */
class RtnlCodecTest {
    private static final String KUBE_IPVS0 = "6b756265 2d697076 7330 00 00"; // "kube-ipvs0\0" + 1 pad

    @BeforeEach
    void littleEndian() {
        Bytes.requireLittleEndian();
    }

    @Test
    void getLinkByName() {
        byte[] expected = hex("30000000 1200 0100 01000000 00000000", // len 48, RTM_GETLINK, NLM_F_REQUEST
                "00 00 0000 00000000 00000000 00000000", // ifinfomsg: AF_UNSPEC, index 0
                "0f00 0300 " + KUBE_IPVS0); // IFLA_IFNAME, len 15
        assertThat(toHex(RtnlCodec.getLink("kube-ipvs0").finish(1, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void newDummyLink() {
        byte[] expected = hex("40000000 1000 0506 02000000 00000000", // RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE (0x605)
                "00 00 0000 00000000 00000000 00000000",
                "0f00 0300 " + KUBE_IPVS0,
                "1000 1280", // IFLA_LINKINFO | NLA_F_NESTED, len 16
                "0a00 0100 64756d6d 7900 0000"); // IFLA_INFO_KIND "dummy\0"
        assertThat(toHex(RtnlCodec.newDummyLink("kube-ipvs0").finish(2, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void deleteLinkByIndex() {
        byte[] expected = hex("20000000 1100 0500 03000000 00000000", "00 00 0000 07000000 00000000 00000000");
        assertThat(toHex(RtnlCodec.deleteLink(7).finish(3, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void bindAndUnbindAnIpv4HostAddress() {
        byte[] add = hex("28000000 1400 0506 04000000 00000000", // RTM_NEWADDR, REQUEST|ACK|EXCL|CREATE
                "02 20 00 00 07000000", // AF_INET, /32, no flags, RT_SCOPE_UNIVERSE, index 7
                "0800 0200 0a600001", // IFA_LOCAL 10.96.0.1
                "0800 0100 0a600001"); // IFA_ADDRESS 10.96.0.1
        assertThat(toHex(RtnlCodec.address(true, 7, "10.96.0.1").finish(4, 0))).isEqualTo(toHex(add));
        byte[] del = hex("28000000 1500 0500 05000000 00000000", // RTM_DELADDR, REQUEST|ACK
                "02 20 00 00 07000000", "0800 0200 0a600001", "0800 0100 0a600001");
        assertThat(toHex(RtnlCodec.address(false, 7, "10.96.0.1").finish(5, 0))).isEqualTo(toHex(del));
    }

    @Test
    void bindAnIpv6HostAddressWithoutDad() {
        byte[] add = hex("40000000 1400 0506 06000000 00000000",
                "0a 80 02 00 07000000", // AF_INET6, /128, IFA_F_NODAD, universe, index 7
                "1400 0200 fd000000 00000000 00000000 0000000a",
                "1400 0100 fd000000 00000000 00000000 0000000a");
        assertThat(toHex(RtnlCodec.address(true, 7, "fd00::a").finish(6, 0))).isEqualTo(toHex(add));
    }

    @Test
    void dumpAddresses() {
        byte[] expected = hex("18000000 1600 0103 07000000 00000000", "00 00 00 00 00000000"); // REQUEST|DUMP
        assertThat(toHex(RtnlCodec.dumpAddresses().finish(7, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void decodesAnAddressReply() throws Exception {
        byte[] reply = hex("54000000 1400 0200 07000000 00000000", // RTM_NEWADDR, NLM_F_MULTI
                "02 20 80 00 07000000", // AF_INET /32, IFA_F_PERMANENT, universe, index 7
                "0800 0100 0a600001", "0800 0200 0a600001",
                "0f00 0300 " + KUBE_IPVS0, // IFA_LABEL
                "0800 0800 80000000", // IFA_FLAGS
                "1400 0600 ffffffff ffffffff 10000000 10000000"); // IFA_CACHEINFO
        InterfaceAddress a = RtnlCodec.decodeAddress(Message.split(reply, reply.length).get(0));
        assertThat(a).isEqualTo(new InterfaceAddress(7, "10.96.0.1", 32, 0, "kube-ipvs0"));
    }

    @Test
    void decodesTheLinkIndex() throws Exception {
        byte[] reply = hex("30000000 1000 0000 01000000 00000000", "00 00 0100 09000000 82000000 00000000",
                "0f00 0300 " + KUBE_IPVS0);
        assertThat(RtnlCodec.linkIndex(Message.split(reply, reply.length).get(0))).isEqualTo(9);
    }
}
