package io.pointsman.ipvs.kernel;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.ipvs.netlink.Attributes;
import io.pointsman.ipvs.netlink.Message;
import io.pointsman.ipvs.netlink.MessageWriter;
import io.pointsman.ipvs.netlink.Netlink;
import io.pointsman.ipvs.netlink.NetlinkException;
import java.nio.ByteBuffer;

/** rtnetlink requests for links and addresses, and their replies' decoding. Pure. */
public final class RtnlCodec {
    private RtnlCodec() {
    }

    /** RTM_GETLINK for one interface by name: a zero ifinfomsg and IFLA_IFNAME. */
    public static MessageWriter getLink(String name) {
        return ifinfo(new MessageWriter(Rtnl.RTM_GETLINK, Netlink.NLM_F_REQUEST), 0)
                .attrString(Rtnl.IFLA_IFNAME, name);
    }

    /** RTM_NEWLINK creating a dummy interface: IFLA_IFNAME and IFLA_LINKINFO {IFLA_INFO_KIND "dummy"}. */
    public static MessageWriter newDummyLink(String name) {
        MessageWriter w = ifinfo(new MessageWriter(Rtnl.RTM_NEWLINK, Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK
                | Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL), 0).attrString(Rtnl.IFLA_IFNAME, name);
        int info = w.beginNested(Rtnl.IFLA_LINKINFO);
        w.attrString(Rtnl.IFLA_INFO_KIND, "dummy");
        return w.endNested(info);
    }

    /** RTM_DELLINK of the interface with {@code index}. */
    public static MessageWriter deleteLink(int index) {
        return ifinfo(new MessageWriter(Rtnl.RTM_DELLINK, Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK), index);
    }

    /** RTM_GETADDR dump of every address of every interface (both families). */
    public static MessageWriter dumpAddresses() {
        return new MessageWriter(Rtnl.RTM_GETADDR, Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP)
                .u8(Rtnl.AF_UNSPEC).u8(0).u8(0).u8(0).u32(0);
    }

    /**
     * RTM_NEWADDR (create) or RTM_DELADDR of a host address (/32, /128) on interface {@code index}:
     * ifaddrmsg with scope universe, IFA_LOCAL and IFA_ADDRESS. IPv6 addresses skip duplicate
     * address detection (IFA_F_NODAD) so they serve at once.
     */
    public static MessageWriter address(boolean add, int index, String ip) {
        IpFamily family = IpFamily.of(ip);
        byte[] raw = IpAddresses.parse(ip);
        int flags = Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK | (add ? Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL : 0);
        MessageWriter w = new MessageWriter(add ? Rtnl.RTM_NEWADDR : Rtnl.RTM_DELADDR, flags)
                .u8(IpvsCodec.af(family)).u8(raw.length * 8)
                .u8(family == IpFamily.IPv6 && add ? Rtnl.IFA_F_NODAD : 0).u8(Rtnl.RT_SCOPE_UNIVERSE).u32(index);
        return w.attr(Rtnl.IFA_LOCAL, raw).attr(Rtnl.IFA_ADDRESS, raw);
    }

    /** The ifi_index of an RTM_NEWLINK reply. */
    public static int linkIndex(Message m) throws NetlinkException {
        ByteBuffer b = m.buffer();
        if (b.remaining() < Rtnl.IFINFOMSG_LEN) {
            throw new NetlinkException("decode link", "payload of " + b.remaining() + " bytes (expected: >= 16)");
        }
        return b.getInt(4);
    }

    /** An RTM_NEWADDR dump reply; the address is IFA_LOCAL when present (IPv4), else IFA_ADDRESS. */
    public static InterfaceAddress decodeAddress(Message m) throws NetlinkException {
        ByteBuffer b = m.buffer();
        if (b.remaining() < Rtnl.IFADDRMSG_LEN) {
            throw new NetlinkException("decode address", "payload of " + b.remaining() + " bytes (expected: >= 8)");
        }
        int prefix = b.get(1) & 0xff;
        int scope = b.get(3) & 0xff;
        int index = b.getInt(4);
        Attributes a = m.attributes(Rtnl.IFADDRMSG_LEN);
        byte[] raw = a.has(Rtnl.IFA_LOCAL) ? a.bytes(Rtnl.IFA_LOCAL) : a.bytes(Rtnl.IFA_ADDRESS);
        String label = a.has(Rtnl.IFA_LABEL) ? a.string(Rtnl.IFA_LABEL) : "";
        return new InterfaceAddress(index, IpAddresses.format(raw), prefix, scope, label);
    }

    private static MessageWriter ifinfo(MessageWriter w, int index) {
        return w.u8(Rtnl.AF_UNSPEC).u8(0).u16(0).u32(index).u32(0).u32(0);
    }
}
