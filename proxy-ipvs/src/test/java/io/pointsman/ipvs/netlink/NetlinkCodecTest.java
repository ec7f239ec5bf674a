package io.pointsman.ipvs.netlink;

import static io.pointsman.ipvs.netlink.Bytes.concat;
import static io.pointsman.ipvs.netlink.Bytes.hex;
import static io.pointsman.ipvs.netlink.Bytes.toHex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The generic netlink plumbing against layouts from linux/netlink.h and linux/genetlink.h:
 * struct nlmsghdr {u32 len; u16 type; u16 flags; u32 seq; u32 pid}, struct nlattr {u16 len;
 * u16 type} padded to NLA_ALIGNTO 4, struct genlmsghdr {u8 cmd; u8 version; u16 reserved},
 * struct nlmsgerr {int error; struct nlmsghdr msg; ...TLVs}.
 */
class NetlinkCodecTest {

    @BeforeEach
    void littleEndian() {
        Bytes.requireLittleEndian();
    }

    @Test
    void getFamilyRequestMatchesTheHeaderLayout() {
        byte[] expected = hex(
                "20000000", // nlmsg_len 32
                "1000", // nlmsg_type GENL_ID_CTRL 0x10
                "0500", // NLM_F_REQUEST|NLM_F_ACK
                "07000000", // seq 7
                "00000000", // pid 0
                "03 01 0000", // genlmsghdr: CTRL_CMD_GETFAMILY 3, version 1, reserved
                "0900 0200", // nlattr len 9, CTRL_ATTR_FAMILY_NAME 2
                "49505653 00 000000"); // "IPVS\0" + 3 pad bytes
        assertThat(toHex(GenericNetlink.getFamilyRequest("IPVS").finish(7, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void nestedAttributesCarryTheirLengthAndTheNestedFlag() {
        MessageWriter w = new MessageWriter(0x22, Netlink.NLM_F_REQUEST).u8(1).u8(1).u16(0);
        int n = w.beginNested(1);
        w.attrU8(2, 0xab).attrBe16(3, 0x1f90);
        w.endNested(n);
        byte[] expected = hex(
                "28000000 2200 0100 01000000 00000000", // len 40, type 0x22, REQUEST, seq 1
                "01 01 0000",
                "1400 0180", // nest: len 20, type 1 | NLA_F_NESTED (0x8000)
                "0500 0200 ab 000000", // u8 attr: len 5, padded to 8
                "0600 0300 1f90 0000"); // be16 attr: len 6, network order, padded to 8
        assertThat(toHex(w.finish(1, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void parsesTheControllerReplyAndMasksAttributeFlags() throws Exception {
        byte[] reply = hex(
                "30000000 1000 0000 05000000 aa000000", // len 48, GENL_ID_CTRL, seq 5, pid 0xaa
                "01 02 0000", // CTRL_CMD_NEWFAMILY, version 2
                "0900 0200 49505653 00 000000", // CTRL_ATTR_FAMILY_NAME "IPVS"
                "0600 0100 2300 0000", // CTRL_ATTR_FAMILY_ID u16 0x23
                "0800 0340 01000000"); // CTRL_ATTR_VERSION u32 1, with NLA_F_NET_BYTEORDER set to test masking
        List<Message> messages = Message.split(reply, reply.length);
        assertThat(messages).hasSize(1);
        Message m = messages.get(0);
        assertThat(m.type()).isEqualTo(0x10);
        assertThat(m.seq()).isEqualTo(5);
        assertThat(m.pid()).isEqualTo(0xaa);
        GenericNetlink.Family f = GenericNetlink.parseFamily(m);
        assertThat(f).isEqualTo(new GenericNetlink.Family("IPVS", 0x23, 1));
    }

    @Test
    void aDumpSpreadOverSeveralDatagramsEndsAtDone() throws Exception {
        ReplyAssembler a = new ReplyAssembler("dump", 9, Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP);
        // Datagram 1: two NLM_F_MULTI data messages; datagram 2: one more and NLMSG_DONE.
        byte[] d1 = concat(
                hex("18000000 2300 0200 09000000 00000000", "01 01 0000", "0400 0100"), // empty attr type 1
                hex("18000000 2300 0200 09000000 00000000", "01 01 0000", "0400 0200"));
        byte[] d2 = concat(
                hex("18000000 2300 0200 08000000 00000000", "01 01 0000", "0400 0900"), // stale seq 8: ignored
                hex("18000000 2300 0200 09000000 00000000", "01 01 0000", "0400 0300"),
                hex("14000000 0300 0200 09000000 00000000", "00000000")); // NLMSG_DONE, error 0
        List<Boolean> complete = new ArrayList<>();
        for (Message m : Message.split(d1, d1.length)) {
            complete.add(a.accept(m));
        }
        assertThat(complete).containsExactly(false, false);
        for (Message m : Message.split(d2, d2.length)) {
            complete.add(a.accept(m));
        }
        assertThat(complete).containsExactly(false, false, false, false, true);
        List<Integer> types = new ArrayList<>();
        for (Message m : a.replies()) {
            types.add(m.attributes(Netlink.GENL_HDRLEN).types().get(0));
        }
        assertThat(types).containsExactly(1, 2, 3);
    }

    @Test
    void anAckEndsARequestWithoutData() throws Exception {
        ReplyAssembler a = new ReplyAssembler("op", 3, Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK);
        byte[] ack = hex("24000000 0200 0001 03000000 00000000", // NLMSG_ERROR, NLM_F_CAPPED
                "00000000", // error 0 = ack
                "1c000000 2300 0500 03000000 00000000"); // echoed request header
        assertThat(a.accept(Message.split(ack, ack.length).get(0))).isTrue();
        assertThat(a.replies()).isEmpty();
    }

    @Test
    void anErrorReplyBecomesAnExceptionNamingTheOperationAndErrno() throws Exception {
        byte[] error = hex(
                "40000000 0200 0003 04000000 00000000", // len 64, NLMSG_ERROR, CAPPED|ACK_TLVS, seq 4
                "efffffff", // error -17
                "68000000 2300 0500 04000000 00000000", // echoed nlmsghdr of the request (len 104)
                "1b00 0100", "53657276 69636520 616c7265 61647920 65786973 747300 00"); // NLMSGERR_ATTR_MSG "Service already exists\0" + pad
        ReplyAssembler a = new ReplyAssembler("IPVS_CMD_NEW_SERVICE 10.96.0.1:80/TCP", 4,
                Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK);
        Message m = Message.split(error, error.length).get(0);
        assertThatThrownBy(() -> a.accept(m))
                .isInstanceOf(NetlinkException.class)
                .hasMessage("IPVS_CMD_NEW_SERVICE 10.96.0.1:80/TCP: EEXIST (17): Service already exists")
                .satisfies(e -> assertThat(((NetlinkException) e).errno()).isEqualTo(17));
    }

    @Test
    void anUncappedErrorWithoutTlvsNamesTheErrnoOnly() throws Exception {
        byte[] error = hex(
                "30000000 0200 0000 02000000 00000000", // NLMSG_ERROR, no flags, seq 2
                "fdffffff", // -3 ESRCH
                "1c000000 2300 0500 02000000 00000000", // echoed header (len 28) ...
                "03 01 0000 0800 0100 00000000"); // ... and its payload (not capped)
        ReplyAssembler a = new ReplyAssembler("IPVS_CMD_DEL_SERVICE 10.96.0.9:80/UDP", 2, Netlink.NLM_F_ACK);
        Message m = Message.split(error, error.length).get(0);
        assertThatThrownBy(() -> a.accept(m)).hasMessage("IPVS_CMD_DEL_SERVICE 10.96.0.9:80/UDP: ESRCH (3)");
    }

    @Test
    void malformedLengthsAreRefusedWithTheOffset() {
        byte[] bad = hex("40000000 1000 0000 01000000 00000000"); // claims 64 bytes, has 16
        assertThatThrownBy(() -> Message.split(bad, bad.length)).isInstanceOf(NetlinkException.class)
                .hasMessageContaining("malformed message at offset 0: length 64 (expected: 16-16)");
        byte[] attr = hex("0900 0200 4950"); // attribute claims 9 bytes, 6 present
        assertThatThrownBy(() -> Attributes.parse(java.nio.ByteBuffer.wrap(attr), 0, attr.length))
                .hasMessageContaining("malformed attribute at offset 0: length 9");
    }

    @Test
    void aDoneCarryingAnErrorFailsTheDump() throws Exception {
        byte[] done = hex("14000000 0300 0200 01000000 00000000", "f4ffffff"); // -12 ENOMEM
        ReplyAssembler a = new ReplyAssembler("RTM_GETADDR (dump)", 1, Netlink.NLM_F_DUMP);
        assertThatThrownBy(() -> a.accept(Message.split(done, done.length).get(0)))
                .hasMessage("RTM_GETADDR (dump): ENOMEM (12)");
    }
}
