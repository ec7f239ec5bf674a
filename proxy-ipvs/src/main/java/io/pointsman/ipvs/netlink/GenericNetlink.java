package io.pointsman.ipvs.netlink;

/** Generic netlink: resolving a family name to its id through the controller (nlctrl). */
public final class GenericNetlink {
    private GenericNetlink() {
    }

    /** A resolved family. */
    public record Family(String name, int id, int version) {
    }

    /** CTRL_CMD_GETFAMILY request for {@code name}: genlmsghdr {cmd 3, version 1} + CTRL_ATTR_FAMILY_NAME. */
    public static MessageWriter getFamilyRequest(String name) {
        return new MessageWriter(Netlink.GENL_ID_CTRL, Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK)
                .u8(Netlink.CTRL_CMD_GETFAMILY).u8(1).u16(0)
                .attrString(Netlink.CTRL_ATTR_FAMILY_NAME, name);
    }

    /** Reads CTRL_ATTR_FAMILY_ID (u16) and CTRL_ATTR_VERSION (u32) from the controller's reply. */
    public static Family parseFamily(Message reply) throws NetlinkException {
        Attributes a = reply.attributes(Netlink.GENL_HDRLEN);
        return new Family(a.string(Netlink.CTRL_ATTR_FAMILY_NAME), a.u16(Netlink.CTRL_ATTR_FAMILY_ID),
                a.has(Netlink.CTRL_ATTR_VERSION) ? a.u32(Netlink.CTRL_ATTR_VERSION) : 0);
    }

    /** Resolves {@code name} over {@code socket} (a NETLINK_GENERIC socket). ENOENT when the family is absent. */
    public static Family resolve(NetlinkSocket socket, String name) throws NetlinkException {
        var replies = socket.request("CTRL_CMD_GETFAMILY " + name, getFamilyRequest(name));
        if (replies.isEmpty()) {
            throw new NetlinkException("CTRL_CMD_GETFAMILY " + name, "no family in the controller's reply");
        }
        return parseFamily(replies.get(0));
    }
}
