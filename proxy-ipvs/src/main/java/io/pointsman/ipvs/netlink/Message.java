package io.pointsman.ipvs.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One received netlink message: the {@code nlmsghdr} fields and the bytes after the header
 * (family header and attributes).
 */
public record Message(int type, int flags, int seq, int pid, byte[] payload) {

    public Message {
        payload = payload.clone();
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    /** The payload as a read-only, host-order buffer (no copy). */
    public ByteBuffer buffer() {
        return ByteBuffer.wrap(payload).asReadOnlyBuffer().order(ByteOrder.nativeOrder());
    }

    public boolean hasFlag(int flag) {
        return (flags & flag) != 0;
    }

    /**
     * Attributes after a family header of {@code headerLength} bytes (4 for generic netlink,
     * 16 for ifinfomsg, 8 for ifaddrmsg).
     */
    public Attributes attributes(int headerLength) throws NetlinkException {
        if (payload.length < headerLength) {
            throw new NetlinkException("message type " + type, "payload of " + payload.length
                    + " bytes is shorter than its " + headerLength + "-byte family header");
        }
        return Attributes.parse(ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder()),
                Netlink.align(headerLength), payload.length);
    }

    /** Splits one received datagram into its messages (several may share one datagram). */
    public static List<Message> split(byte[] datagram, int length) throws NetlinkException {
        ByteBuffer b = ByteBuffer.wrap(datagram, 0, length).order(ByteOrder.nativeOrder());
        List<Message> out = new ArrayList<>();
        int at = 0;
        while (length - at >= Netlink.NLMSG_HDRLEN) {
            int len = b.getInt(at);
            if (len < Netlink.NLMSG_HDRLEN || len > length - at) {
                throw new NetlinkException("receive", "malformed message at offset " + at + ": length " + len
                        + " (expected: " + Netlink.NLMSG_HDRLEN + "-" + (length - at) + ")");
            }
            int type = b.getShort(at + 4) & 0xffff;
            int flags = b.getShort(at + 6) & 0xffff;
            int seq = b.getInt(at + 8);
            int pid = b.getInt(at + 12);
            out.add(new Message(type, flags, seq, pid,
                    Arrays.copyOfRange(datagram, at + Netlink.NLMSG_HDRLEN, at + len)));
            at += Netlink.align(len);
        }
        if (at < length) {
            throw new NetlinkException("receive", (length - at) + " trailing bytes after the last message");
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Message m && m.type == type && m.flags == flags && m.seq == seq && m.pid == pid
                && Arrays.equals(m.payload, payload);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * type + seq) + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "Message[type=" + type + ", flags=0x" + Integer.toHexString(flags) + ", seq=" + seq + ", pid=" + pid
                + ", " + payload.length + " payload bytes]";
    }
}
