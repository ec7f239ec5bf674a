package io.pointsman.ipvs.kernel;

import static io.pointsman.ipvs.netlink.Bytes.concat;
import static io.pointsman.ipvs.netlink.Bytes.hex;
import static io.pointsman.ipvs.netlink.Bytes.toHex;
import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.ipvs.netlink.Bytes;
import io.pointsman.ipvs.netlink.Message;
import io.pointsman.ipvs.netlink.Netlink;
import io.pointsman.ipvs.netlink.ReplyAssembler;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every IPVS request and reply, byte for byte, against linux/ip_vs.h: commands IPVS_CMD_*,
 * IPVS_CMD_ATTR_SERVICE = 1 and _DEST = 2 nests, IPVS_SVC_ATTR_* (AF u16 = 1, PROTOCOL u16 = 2,
 * ADDR union nf_inet_addr 16 bytes = 3, PORT __be16 = 4, SCHED_NAME string = 6, FLAGS struct
 * ip_vs_flags {u32 flags; u32 mask} = 7, TIMEOUT u32 = 8, NETMASK = 9), IPVS_DEST_ATTR_* (ADDR = 1,
 * PORT = 2, FWD_METHOD u32 = 3, WEIGHT = 4, U_THRESH = 5, L_THRESH = 6, ACTIVE_CONNS = 7,
 * INACT_CONNS = 8, PERSIST_CONNS = 9, ADDR_FAMILY u16 = 11), genl version IPVS_GENL_VERSION 1.
 * The family id is whatever the controller assigned; 0x23 here.
 */
class IpvsCodecTest {
    private static final int FAMILY = 0x23;
    private final IpvsCodec codec = new IpvsCodec(FAMILY);
    private static final ServiceKey KEY = new ServiceKey(Protocol.TCP, "10.96.0.1", 80);

    // The service key attributes of 10.96.0.1:80/TCP, 44 bytes.
    private static final String[] KEY_ATTRS = {
        "0600 0100 0200 0000", // IPVS_SVC_ATTR_AF: AF_INET 2, padded
        "0600 0200 0600 0000", // IPVS_SVC_ATTR_PROTOCOL: IPPROTO_TCP 6
        "1400 0300 0a600001 00000000 00000000 00000000", // IPVS_SVC_ATTR_ADDR: 10.96.0.1 in a 16-byte union
        "0600 0400 0050 0000", // IPVS_SVC_ATTR_PORT: 80, network order
    };

    @BeforeEach
    void littleEndian() {
        Bytes.requireLittleEndian();
    }

    @Test
    void newService() {
        byte[] expected = concat(hex(
                "68000000 2300 0500 01000000 00000000", // len 104, family 0x23, REQUEST|ACK, seq 1
                "01 01 0000", // IPVS_CMD_NEW_SERVICE, version 1
                "5400 0180"), // IPVS_CMD_ATTR_SERVICE nest (NLA_F_NESTED), len 84
                hex(KEY_ATTRS), hex(
                "0700 0600 727200 00", // IPVS_SVC_ATTR_SCHED_NAME "rr\0"
                "0c00 0700 00000000 ffffffff", // IPVS_SVC_ATTR_FLAGS {flags 0, mask 0xffffffff}
                "0800 0800 00000000", // IPVS_SVC_ATTR_TIMEOUT 0
                "0800 0900 ffffffff")); // IPVS_SVC_ATTR_NETMASK 0xffffffff
        VirtualServer vs = VirtualServer.of(KEY, "rr", 0);
        assertThat(toHex(codec.service(Ipvs.CMD_NEW_SERVICE, vs).finish(1, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void setServiceWithPersistenceForClientIpAffinity() {
        byte[] expected = concat(hex(
                "68000000 2300 0500 02000000 00000000",
                "02 01 0000", // IPVS_CMD_SET_SERVICE
                "5400 0180"), hex(KEY_ATTRS), hex(
                "0800 0600 776c6300", // "wlc\0"
                "0c00 0700 01000000 ffffffff", // IP_VS_SVC_F_PERSISTENT
                "0800 0800 302a0000", // timeout 10800 s
                "0800 0900 ffffffff"));
        VirtualServer vs = VirtualServer.of(KEY, "wlc", 10800);
        assertThat(toHex(codec.service(Ipvs.CMD_SET_SERVICE, vs).finish(2, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void ipv6ServiceUsesAfInet6AndPrefixLengthNetmask() {
        ServiceKey k = new ServiceKey(Protocol.UDP, "fd00::a", 53);
        byte[] expected = hex(
                "68000000 2300 0500 03000000 00000000",
                "01 01 0000", "5400 0180",
                "0600 0100 0a00 0000", // AF_INET6 10
                "0600 0200 1100 0000", // IPPROTO_UDP 17
                "1400 0300 fd000000 00000000 00000000 0000000a", // fd00::a
                "0600 0400 0035 0000", // port 53
                "0700 0600 727200 00",
                "0c00 0700 00000000 ffffffff",
                "0800 0800 00000000",
                "0800 0900 80000000"); // netmask = prefix length 128 for IPv6
        assertThat(toHex(codec.service(Ipvs.CMD_NEW_SERVICE, VirtualServer.of(k, "rr", 0)).finish(3, 0)))
                .isEqualTo(toHex(expected));
    }

    @Test
    void deleteServiceCarriesTheKeyOnly() {
        byte[] expected = concat(hex("44000000 2300 0500 04000000 00000000", "03 01 0000", "3000 0180"),
                hex(KEY_ATTRS));
        assertThat(toHex(codec.deleteService(KEY).finish(4, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void dumpServicesIsABareGetWithDumpFlags() {
        byte[] expected = hex("14000000 2300 0103 05000000 00000000", "04 01 0000"); // REQUEST|NLM_F_DUMP 0x301
        assertThat(toHex(codec.dumpServices().finish(5, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void newDestination() {
        byte[] expected = concat(hex(
                "8c000000 2300 0500 06000000 00000000", // len 140
                "05 01 0000", // IPVS_CMD_NEW_DEST
                "3000 0180"), hex(KEY_ATTRS), hex( // service nest, len 48
                "4800 0280", // IPVS_CMD_ATTR_DEST nest, len 72
                "1400 0100 0af40105 00000000 00000000 00000000", // IPVS_DEST_ATTR_ADDR 10.244.1.5
                "0600 0200 1f90 0000", // IPVS_DEST_ATTR_PORT 8080
                "0600 0b00 0200 0000", // IPVS_DEST_ATTR_ADDR_FAMILY AF_INET
                "0800 0300 00000000", // IPVS_DEST_ATTR_FWD_METHOD IP_VS_CONN_F_MASQ 0
                "0800 0400 01000000", // IPVS_DEST_ATTR_WEIGHT 1
                "0800 0500 00000000", // IPVS_DEST_ATTR_U_THRESH 0
                "0800 0600 00000000")); // IPVS_DEST_ATTR_L_THRESH 0
        RealServer rs = RealServer.masq("10.244.1.5", 8080, 1);
        assertThat(toHex(codec.destination(Ipvs.CMD_NEW_DEST, KEY, rs).finish(6, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void setDestinationToWeightZeroForGracefulTermination() {
        byte[] expected = concat(hex("8c000000 2300 0500 07000000 00000000", "06 01 0000", "3000 0180"),
                hex(KEY_ATTRS), hex("4800 0280",
                "1400 0100 0af40105 00000000 00000000 00000000", "0600 0200 1f90 0000", "0600 0b00 0200 0000",
                "0800 0300 00000000", "0800 0400 00000000", // weight 0
                "0800 0500 00000000", "0800 0600 00000000"));
        RealServer rs = new RealServer("10.244.1.5", 8080, 0, Ipvs.CONN_F_MASQ, 0, 0, 3, 1);
        assertThat(toHex(codec.destination(Ipvs.CMD_SET_DEST, KEY, rs).finish(7, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void deleteDestinationCarriesItsKeyOnly() {
        byte[] expected = concat(hex("6c000000 2300 0500 08000000 00000000", "07 01 0000", "3000 0180"),
                hex(KEY_ATTRS), hex("2800 0280", // dest nest len 40
                "1400 0100 0af40105 00000000 00000000 00000000", "0600 0200 1f90 0000", "0600 0b00 0200 0000"));
        assertThat(toHex(codec.deleteDestination(KEY, RealServer.masq("10.244.1.5", 8080, 1)).finish(8, 0)))
                .isEqualTo(toHex(expected));
    }

    @Test
    void dumpDestinationsNamesTheService() {
        byte[] expected = concat(hex("44000000 2300 0103 09000000 00000000", "08 01 0000", "3000 0180"),
                hex(KEY_ATTRS));
        assertThat(toHex(codec.dumpDestinations(KEY).finish(9, 0))).isEqualTo(toHex(expected));
    }

    @Test
    void setConfigSendsOnlyNonZeroTimeouts() {
        byte[] all = hex("2c000000 2300 0500 0a000000 00000000", "0c 01 0000", // IPVS_CMD_SET_CONFIG 12
                "0800 0400 84030000", // IPVS_CMD_ATTR_TIMEOUT_TCP 900
                "0800 0500 78000000", // IPVS_CMD_ATTR_TIMEOUT_TCP_FIN 120
                "0800 0600 2c010000"); // IPVS_CMD_ATTR_TIMEOUT_UDP 300
        assertThat(toHex(codec.setTimeouts(new IpvsTimeouts(900, 120, 300)).finish(10, 0))).isEqualTo(toHex(all));
        byte[] udpOnly = hex("1c000000 2300 0500 0b000000 00000000", "0c 01 0000", "0800 0600 3c000000");
        assertThat(toHex(codec.setTimeouts(new IpvsTimeouts(0, 0, 60)).finish(11, 0))).isEqualTo(toHex(udpOnly));
    }

    /** A GET_SERVICE dump as the kernel writes it (ip_vs_genl_fill_service), over two datagrams. */
    @Test
    void decodesAServiceDumpSpreadOverSeveralMessages() throws Exception {
        byte[] d1 = concat(serviceReply("0a600001", "0050", "0700 0600 727200 00", "03000000", "302a0000"),
                serviceReply("0a60000a", "0035", "0700 0600 727200 00", "02000000", "00000000"));
        byte[] d2 = concat(serviceReply("c0a80002", "7594", "0800 0600 77727200", "02000000", "00000000"),
                hex("14000000 0300 0200 05000000 00000000", "00000000"));
        ReplyAssembler a = new ReplyAssembler("IPVS_CMD_GET_SERVICE (dump)", 5, Netlink.NLM_F_DUMP);
        boolean done = false;
        for (byte[] d : List.of(d1, d2)) {
            for (Message m : Message.split(d, d.length)) {
                done = a.accept(m);
            }
        }
        assertThat(done).isTrue();
        List<String> decoded = new ArrayList<>();
        for (Message m : a.replies()) {
            decoded.add(IpvsCodec.decodeService(m).toString());
        }
        // HASHED (0x2) is the kernel's own bookkeeping and is dropped; PERSISTENT (0x1) kept.
        assertThat(decoded).containsExactly("10.96.0.1:80/TCP rr persistent 10800", "10.96.0.10:53/TCP rr",
                "192.168.0.2:30100/TCP wrr");
        VirtualServer first = IpvsCodec.decodeService(a.replies().get(0));
        assertThat(first).isEqualTo(new VirtualServer(KEY, "rr", Ipvs.SVC_F_PERSISTENT, 10800, 0xffffffff));
    }

    private static byte[] serviceReply(String addr, String port, String sched, String flags, String timeout) {
        return hex(
                "9c000000 2300 0200 05000000 00000000", // len 156, NLM_F_MULTI
                "01 01 0000", // IPVS_CMD_NEW_SERVICE
                "8800 0100", // IPVS_CMD_ATTR_SERVICE (the kernel nests without NLA_F_NESTED), len 136
                "0600 0100 0200 0000", "0600 0200 0600 0000",
                "1400 0300 " + addr + " 00000000 00000000 00000000",
                "0600 0400 " + port + " 0000",
                sched, // IPVS_SVC_ATTR_SCHED_NAME
                "0c00 0700 " + flags + " ffffffff",
                "0800 0800 " + timeout,
                "0800 0900 ffffffff",
                "3400 0a00", // IPVS_SVC_ATTR_STATS nest, len 52: ignored
                "0800 0100 07000000", "0800 0200 09000000", "0800 0300 08000000",
                "0c00 0400 00010000 00000000", "0c00 0500 00020000 00000000");
    }

    @Test
    void decodesADestinationReplyWithCounters() throws Exception {
        byte[] reply = hex(
                "8c000000 2300 0200 06000000 00000000", // len 140
                "05 01 0000", // IPVS_CMD_NEW_DEST
                "7800 0200", // IPVS_CMD_ATTR_DEST len 120
                "1400 0100 0af40105 00000000 00000000 00000000", // ADDR
                "0600 0200 1f90 0000", // PORT 8080
                "0800 0300 00000000", // FWD_METHOD masq
                "0800 0400 00000000", // WEIGHT 0 (draining)
                "0500 0d00 00 000000", // TUN_TYPE u8
                "0600 0e00 0000 0000", // TUN_PORT
                "0600 0f00 0000 0000", // TUN_FLAGS
                "0800 0500 00000000", "0800 0600 00000000", // thresholds
                "0800 0700 02000000", // ACTIVE_CONNS 2
                "0800 0800 05000000", // INACT_CONNS 5
                "0800 0900 00000000", // PERSIST_CONNS
                "0600 0b00 0200 0000"); // ADDR_FAMILY AF_INET
        Message m = Message.split(reply, reply.length).get(0);
        RealServer rs = IpvsCodec.decodeDestination(m, IpFamily.IPv4);
        assertThat(rs).isEqualTo(new RealServer("10.244.1.5", 8080, 0, Ipvs.CONN_F_MASQ, 0, 0, 2, 5));
        assertThat(rs.connections()).isEqualTo(7);
    }

    @Test
    void decodesTheTimeoutsReply() throws Exception {
        byte[] reply = hex("2c000000 2300 0000 07000000 00000000", "0c 01 0000",
                "0800 0400 84030000", "0800 0500 78000000", "0800 0600 2c010000");
        assertThat(IpvsCodec.decodeTimeouts(Message.split(reply, reply.length).get(0)))
                .isEqualTo(new IpvsTimeouts(900, 120, 300));
    }
}
