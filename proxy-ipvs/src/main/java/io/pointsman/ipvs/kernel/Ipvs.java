package io.pointsman.ipvs.kernel;

/** Constants of linux/ip_vs.h (generic netlink family "IPVS"), with the header's names. */
public final class Ipvs {
    private Ipvs() {
    }

    public static final String GENL_NAME = "IPVS";
    public static final int GENL_VERSION = 1;
    public static final int SCHEDNAME_MAXLEN = 16;

    // Commands.
    public static final int CMD_NEW_SERVICE = 1;
    public static final int CMD_SET_SERVICE = 2;
    public static final int CMD_DEL_SERVICE = 3;
    public static final int CMD_GET_SERVICE = 4;
    public static final int CMD_NEW_DEST = 5;
    public static final int CMD_SET_DEST = 6;
    public static final int CMD_DEL_DEST = 7;
    public static final int CMD_GET_DEST = 8;
    public static final int CMD_SET_CONFIG = 12;
    public static final int CMD_GET_CONFIG = 13;
    public static final int CMD_FLUSH = 17;

    // Top-level attributes.
    public static final int CMD_ATTR_SERVICE = 1;
    public static final int CMD_ATTR_DEST = 2;
    public static final int CMD_ATTR_TIMEOUT_TCP = 4;
    public static final int CMD_ATTR_TIMEOUT_TCP_FIN = 5;
    public static final int CMD_ATTR_TIMEOUT_UDP = 6;

    // Service attributes (nested in CMD_ATTR_SERVICE).
    public static final int SVC_ATTR_AF = 1;
    public static final int SVC_ATTR_PROTOCOL = 2;
    public static final int SVC_ATTR_ADDR = 3;
    public static final int SVC_ATTR_PORT = 4;
    public static final int SVC_ATTR_FWMARK = 5;
    public static final int SVC_ATTR_SCHED_NAME = 6;
    public static final int SVC_ATTR_FLAGS = 7;
    public static final int SVC_ATTR_TIMEOUT = 8;
    public static final int SVC_ATTR_NETMASK = 9;
    public static final int SVC_ATTR_STATS = 10;

    // Destination attributes (nested in CMD_ATTR_DEST).
    public static final int DEST_ATTR_ADDR = 1;
    public static final int DEST_ATTR_PORT = 2;
    public static final int DEST_ATTR_FWD_METHOD = 3;
    public static final int DEST_ATTR_WEIGHT = 4;
    public static final int DEST_ATTR_U_THRESH = 5;
    public static final int DEST_ATTR_L_THRESH = 6;
    public static final int DEST_ATTR_ACTIVE_CONNS = 7;
    public static final int DEST_ATTR_INACT_CONNS = 8;
    public static final int DEST_ATTR_PERSIST_CONNS = 9;
    public static final int DEST_ATTR_ADDR_FAMILY = 11;

    // Service flags.
    public static final int SVC_F_PERSISTENT = 0x0001;
    public static final int SVC_F_HASHED = 0x0002;

    // Forwarding methods.
    public static final int CONN_F_FWD_MASK = 0x0007;
    public static final int CONN_F_MASQ = 0x0000;

    // Address families and protocols (linux/socket.h, netinet/in.h).
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;
    public static final int IPPROTO_SCTP = 132;

    /** Union nf_inet_addr: the address attribute is always 16 bytes, IPv4 in the first 4. */
    public static final int ADDR_LEN = 16;

    public static String commandName(int cmd) {
        return switch (cmd) {
            case CMD_NEW_SERVICE -> "IPVS_CMD_NEW_SERVICE";
            case CMD_SET_SERVICE -> "IPVS_CMD_SET_SERVICE";
            case CMD_DEL_SERVICE -> "IPVS_CMD_DEL_SERVICE";
            case CMD_GET_SERVICE -> "IPVS_CMD_GET_SERVICE";
            case CMD_NEW_DEST -> "IPVS_CMD_NEW_DEST";
            case CMD_SET_DEST -> "IPVS_CMD_SET_DEST";
            case CMD_DEL_DEST -> "IPVS_CMD_DEL_DEST";
            case CMD_GET_DEST -> "IPVS_CMD_GET_DEST";
            case CMD_SET_CONFIG -> "IPVS_CMD_SET_CONFIG";
            case CMD_GET_CONFIG -> "IPVS_CMD_GET_CONFIG";
            case CMD_FLUSH -> "IPVS_CMD_FLUSH";
            default -> "IPVS_CMD_" + cmd;
        };
    }
}
