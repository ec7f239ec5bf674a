package io.pointsman.ipvs.kernel;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import io.pointsman.ipvs.netlink.Attributes;
import io.pointsman.ipvs.netlink.Message;
import io.pointsman.ipvs.netlink.MessageWriter;
import io.pointsman.ipvs.netlink.Netlink;
import io.pointsman.ipvs.netlink.NetlinkException;
import java.util.Arrays;

/**
 * Encodes IPVS generic netlink requests and decodes the kernel's replies, per linux/ip_vs.h:
 * genlmsghdr {cmd, version 1}, then IPVS_CMD_ATTR_SERVICE / IPVS_CMD_ATTR_DEST nests. Pure.
 */
public final class IpvsCodec {
    private final int familyId;

    /** @param familyId the id the controller resolved for "IPVS" */
    public IpvsCodec(int familyId) {
        this.familyId = familyId;
    }

    public int familyId() {
        return familyId;
    }

    /** NEW_SERVICE / SET_SERVICE: the key plus scheduler, flags {flags, mask 0xffffffff}, timeout, netmask. */
    public MessageWriter service(int cmd, VirtualServer vs) {
        MessageWriter w = header(cmd, Netlink.NLM_F_ACK);
        int nest = w.beginNested(Ipvs.CMD_ATTR_SERVICE);
        serviceKey(w, vs.key());
        w.attrString(Ipvs.SVC_ATTR_SCHED_NAME, vs.scheduler());
        byte[] flags = new byte[8];
        java.nio.ByteBuffer.wrap(flags).order(java.nio.ByteOrder.nativeOrder()).putInt(vs.flags()).putInt(0xffffffff);
        w.attr(Ipvs.SVC_ATTR_FLAGS, flags);
        w.attrU32(Ipvs.SVC_ATTR_TIMEOUT, vs.timeoutSeconds());
        w.attrU32(Ipvs.SVC_ATTR_NETMASK, vs.netmask());
        return w.endNested(nest);
    }

    /** DEL_SERVICE: the key only. */
    public MessageWriter deleteService(ServiceKey key) {
        MessageWriter w = header(Ipvs.CMD_DEL_SERVICE, Netlink.NLM_F_ACK);
        int nest = w.beginNested(Ipvs.CMD_ATTR_SERVICE);
        serviceKey(w, key);
        return w.endNested(nest);
    }

    /** GET_SERVICE dump of every virtual service. */
    public MessageWriter dumpServices() {
        return header(Ipvs.CMD_GET_SERVICE, Netlink.NLM_F_DUMP);
    }

    /** NEW_DEST / SET_DEST: service key nest, then the destination with method, weight, thresholds. */
    public MessageWriter destination(int cmd, ServiceKey key, RealServer rs) {
        MessageWriter w = header(cmd, Netlink.NLM_F_ACK);
        int svc = w.beginNested(Ipvs.CMD_ATTR_SERVICE);
        serviceKey(w, key);
        w.endNested(svc);
        int dest = w.beginNested(Ipvs.CMD_ATTR_DEST);
        destKey(w, rs);
        w.attrU32(Ipvs.DEST_ATTR_FWD_METHOD, rs.forwardMethod());
        w.attrU32(Ipvs.DEST_ATTR_WEIGHT, rs.weight());
        w.attrU32(Ipvs.DEST_ATTR_U_THRESH, rs.upperThreshold());
        w.attrU32(Ipvs.DEST_ATTR_L_THRESH, rs.lowerThreshold());
        return w.endNested(dest);
    }

    /** DEL_DEST: service key nest and destination address, port, family. */
    public MessageWriter deleteDestination(ServiceKey key, RealServer rs) {
        MessageWriter w = header(Ipvs.CMD_DEL_DEST, Netlink.NLM_F_ACK);
        int svc = w.beginNested(Ipvs.CMD_ATTR_SERVICE);
        serviceKey(w, key);
        w.endNested(svc);
        int dest = w.beginNested(Ipvs.CMD_ATTR_DEST);
        destKey(w, rs);
        return w.endNested(dest);
    }

    /** GET_DEST dump of one service's destinations. */
    public MessageWriter dumpDestinations(ServiceKey key) {
        MessageWriter w = header(Ipvs.CMD_GET_DEST, Netlink.NLM_F_DUMP);
        int svc = w.beginNested(Ipvs.CMD_ATTR_SERVICE);
        serviceKey(w, key);
        return w.endNested(svc);
    }

    /** SET_CONFIG with the non-zero timeouts only (0 would mean "unchanged" anyway). */
    public MessageWriter setTimeouts(IpvsTimeouts t) {
        MessageWriter w = header(Ipvs.CMD_SET_CONFIG, Netlink.NLM_F_ACK);
        if (t.tcp() > 0) {
            w.attrU32(Ipvs.CMD_ATTR_TIMEOUT_TCP, t.tcp());
        }
        if (t.tcpFin() > 0) {
            w.attrU32(Ipvs.CMD_ATTR_TIMEOUT_TCP_FIN, t.tcpFin());
        }
        if (t.udp() > 0) {
            w.attrU32(Ipvs.CMD_ATTR_TIMEOUT_UDP, t.udp());
        }
        return w;
    }

    public MessageWriter getTimeouts() {
        return header(Ipvs.CMD_GET_CONFIG, Netlink.NLM_F_ACK);
    }

    /**
     * Decodes one GET_SERVICE dump reply; null for a firewall-mark service (no address), which
     * Pointsman never creates.
     */
    public static VirtualServer decodeService(Message m) throws NetlinkException {
        Attributes svc = m.attributes(Netlink.GENL_HDRLEN).nested(Ipvs.CMD_ATTR_SERVICE);
        if (!svc.has(Ipvs.SVC_ATTR_ADDR)) {
            return null;
        }
        int af = svc.u16(Ipvs.SVC_ATTR_AF);
        ServiceKey key = new ServiceKey(protocol(svc.u16(Ipvs.SVC_ATTR_PROTOCOL)),
                address(af, svc.bytes(Ipvs.SVC_ATTR_ADDR)), svc.be16(Ipvs.SVC_ATTR_PORT));
        byte[] flags = svc.bytes(Ipvs.SVC_ATTR_FLAGS);
        int f = java.nio.ByteBuffer.wrap(flags).order(java.nio.ByteOrder.nativeOrder()).getInt(0);
        return new VirtualServer(key, svc.string(Ipvs.SVC_ATTR_SCHED_NAME), f, svc.u32(Ipvs.SVC_ATTR_TIMEOUT),
                svc.u32(Ipvs.SVC_ATTR_NETMASK));
    }

    /** Decodes one GET_DEST dump reply of a service of family {@code serviceFamily}. */
    public static RealServer decodeDestination(Message m, IpFamily serviceFamily) throws NetlinkException {
        Attributes d = m.attributes(Netlink.GENL_HDRLEN).nested(Ipvs.CMD_ATTR_DEST);
        int af = d.has(Ipvs.DEST_ATTR_ADDR_FAMILY) ? d.u16(Ipvs.DEST_ATTR_ADDR_FAMILY) : af(serviceFamily);
        return new RealServer(address(af, d.bytes(Ipvs.DEST_ATTR_ADDR)), d.be16(Ipvs.DEST_ATTR_PORT),
                d.u32(Ipvs.DEST_ATTR_WEIGHT), d.u32(Ipvs.DEST_ATTR_FWD_METHOD) & Ipvs.CONN_F_FWD_MASK,
                d.u32(Ipvs.DEST_ATTR_U_THRESH), d.u32(Ipvs.DEST_ATTR_L_THRESH),
                d.has(Ipvs.DEST_ATTR_ACTIVE_CONNS) ? d.u32(Ipvs.DEST_ATTR_ACTIVE_CONNS) : 0,
                d.has(Ipvs.DEST_ATTR_INACT_CONNS) ? d.u32(Ipvs.DEST_ATTR_INACT_CONNS) : 0);
    }

    /** Decodes a GET_CONFIG reply. */
    public static IpvsTimeouts decodeTimeouts(Message m) throws NetlinkException {
        Attributes a = m.attributes(Netlink.GENL_HDRLEN);
        return new IpvsTimeouts(a.has(Ipvs.CMD_ATTR_TIMEOUT_TCP) ? a.u32(Ipvs.CMD_ATTR_TIMEOUT_TCP) : 0,
                a.has(Ipvs.CMD_ATTR_TIMEOUT_TCP_FIN) ? a.u32(Ipvs.CMD_ATTR_TIMEOUT_TCP_FIN) : 0,
                a.has(Ipvs.CMD_ATTR_TIMEOUT_UDP) ? a.u32(Ipvs.CMD_ATTR_TIMEOUT_UDP) : 0);
    }

    public static int protocolNumber(Protocol p) {
        return switch (p) {
            case TCP -> Ipvs.IPPROTO_TCP;
            case UDP -> Ipvs.IPPROTO_UDP;
            case SCTP -> Ipvs.IPPROTO_SCTP;
        };
    }

    static Protocol protocol(int number) throws NetlinkException {
        return switch (number) {
            case Ipvs.IPPROTO_TCP -> Protocol.TCP;
            case Ipvs.IPPROTO_UDP -> Protocol.UDP;
            case Ipvs.IPPROTO_SCTP -> Protocol.SCTP;
            default -> throw new NetlinkException("decode IPVS service", "protocol " + number
                    + " (expected: 6, 17 or 132)");
        };
    }

    public static int af(IpFamily family) {
        return family == IpFamily.IPv4 ? Ipvs.AF_INET : Ipvs.AF_INET6;
    }

    /** The 16-byte union nf_inet_addr of an address: IPv4 in the first 4 bytes, the rest zero. */
    public static byte[] inetAddr(String ip) {
        return Arrays.copyOf(IpAddresses.parse(ip), Ipvs.ADDR_LEN);
    }

    static String address(int af, byte[] raw) throws NetlinkException {
        int n = af == Ipvs.AF_INET ? 4 : af == Ipvs.AF_INET6 ? 16 : -1;
        if (n < 0 || raw.length < n) {
            throw new NetlinkException("decode IPVS address", "family " + af + " with " + raw.length
                    + " address bytes (expected: AF_INET with >= 4 or AF_INET6 with 16)");
        }
        return IpAddresses.format(Arrays.copyOf(raw, n));
    }

    private MessageWriter header(int cmd, int flags) {
        return new MessageWriter(familyId, Netlink.NLM_F_REQUEST | flags).u8(cmd).u8(Ipvs.GENL_VERSION).u16(0);
    }

    private static void serviceKey(MessageWriter w, ServiceKey key) {
        w.attrU16(Ipvs.SVC_ATTR_AF, af(key.family()));
        w.attrU16(Ipvs.SVC_ATTR_PROTOCOL, protocolNumber(key.protocol()));
        w.attr(Ipvs.SVC_ATTR_ADDR, inetAddr(key.address()));
        w.attrBe16(Ipvs.SVC_ATTR_PORT, key.port());
    }

    private static void destKey(MessageWriter w, RealServer rs) {
        w.attr(Ipvs.DEST_ATTR_ADDR, inetAddr(rs.address()));
        w.attrBe16(Ipvs.DEST_ATTR_PORT, rs.port());
        w.attrU16(Ipvs.DEST_ATTR_ADDR_FAMILY, af(rs.family()));
    }
}
