package io.pointsman.ipvs.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects the replies to one request, message by message, and says when the exchange is over:
 * an {@code NLMSG_ERROR} (an ack when its error is 0, a refusal otherwise), an
 * {@code NLMSG_DONE} closing a multi-part dump, or a single data reply to a request that asked
 * for no ack. Messages with another sequence number (late replies to an earlier request) are
 * ignored. Pure: the socket feeds it, tests feed it bytes.
 */
public final class ReplyAssembler {
    private final String operation;
    private final int seq;
    private final boolean ackRequested;
    private final List<Message> replies = new ArrayList<>();
    private boolean done;

    public ReplyAssembler(String operation, int seq, int requestFlags) {
        this.operation = operation;
        this.seq = seq;
        this.ackRequested = (requestFlags & Netlink.NLM_F_ACK) != 0;
    }

    /**
     * Takes one received message.
     *
     * @return true when the exchange is complete
     * @throws NetlinkException naming the operation and errno when the kernel refused the request
     */
    public boolean accept(Message m) throws NetlinkException {
        if (done) {
            throw new IllegalStateException("exchange " + operation + " already complete");
        }
        if (m.seq() != seq) {
            return false;
        }
        switch (m.type()) {
            case Netlink.NLMSG_NOOP:
                return false;
            case Netlink.NLMSG_ERROR: {
                ByteBuffer b = m.buffer();
                if (b.remaining() < 4) {
                    throw new NetlinkException(operation, "error reply of " + b.remaining()
                            + " bytes (expected: at least 4)");
                }
                int error = b.getInt(0);
                done = true;
                if (error != 0) {
                    throw new NetlinkException(operation, -error, extendedAckMessage(m));
                }
                return true;
            }
            case Netlink.NLMSG_DONE: {
                ByteBuffer b = m.buffer();
                int error = b.remaining() >= 4 ? b.getInt(0) : 0;
                done = true;
                if (error != 0) {
                    throw new NetlinkException(operation, -error, "");
                }
                return true;
            }
            case Netlink.NLMSG_OVERRUN:
                done = true;
                throw new NetlinkException(operation, "receive buffer overrun (replies were lost)");
            default:
                if (m.hasFlag(Netlink.NLM_F_DUMP_INTR)) {
                    done = true;
                    throw new NetlinkException(operation, "dump interrupted: the table changed while it was read");
                }
                replies.add(m);
                if (!m.hasFlag(Netlink.NLM_F_MULTI) && !ackRequested) {
                    done = true;
                    return true;
                }
                return false;
        }
    }

    public boolean done() {
        return done;
    }

    /** The data messages received so far, in order. */
    public List<Message> replies() {
        return List.copyOf(replies);
    }

    /**
     * The NLMSGERR_ATTR_MSG text of an error reply, "" when absent. Layout (linux/netlink.h):
     * int error; struct nlmsghdr of the request; the request's payload unless NLM_F_CAPPED;
     * then TLVs when NLM_F_ACK_TLVS.
     */
    static String extendedAckMessage(Message m) {
        if (!m.hasFlag(Netlink.NLM_F_ACK_TLVS)) {
            return "";
        }
        ByteBuffer b = ByteBuffer.wrap(m.payload()).order(ByteOrder.nativeOrder());
        int offset = 4 + Netlink.NLMSG_HDRLEN;
        if (!m.hasFlag(Netlink.NLM_F_CAPPED)) {
            if (b.limit() < offset) {
                return "";
            }
            int echoedLength = b.getInt(4);
            offset = 4 + Netlink.align(echoedLength);
        }
        if (offset > b.limit()) {
            return "";
        }
        try {
            Attributes tlvs = Attributes.parse(b, offset, b.limit());
            return tlvs.has(Netlink.NLMSGERR_ATTR_MSG) ? tlvs.string(Netlink.NLMSGERR_ATTR_MSG) : "";
        } catch (NetlinkException e) {
            return "";
        }
    }
}
