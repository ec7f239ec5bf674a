package io.pointsman.ipvs.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds one netlink message: the 16-byte {@code nlmsghdr}, a family header written with the
 * plain {@code u8/u16/u32} calls, then attributes ({@code nlattr}: u16 len, u16 type, value,
 * padding to 4 bytes). Host byte order except where a method says network order.
 * {@link #finish(int, int)} fills in the length, sequence number and port id.
 */
public final class MessageWriter {
    private ByteBuffer buf = ByteBuffer.allocate(256).order(ByteOrder.nativeOrder());
    private final int type;
    private final int flags;
    private int openNests;

    public MessageWriter(int type, int flags) {
        if (type < 0 || type > 0xffff) {
            throw new IllegalArgumentException("message type: " + type + " (expected: 0-65535)");
        }
        this.type = type;
        this.flags = flags;
        buf.position(Netlink.NLMSG_HDRLEN);
    }

    public int type() {
        return type;
    }

    public int flags() {
        return flags;
    }

    public MessageWriter u8(int value) {
        ensure(1).put((byte) value);
        return this;
    }

    public MessageWriter u16(int value) {
        ensure(2).putShort((short) value);
        return this;
    }

    public MessageWriter u32(int value) {
        ensure(4).putInt(value);
        return this;
    }

    /** Zero bytes, e.g. the reserved field of a family header. */
    public MessageWriter zeros(int count) {
        ensure(count).put(new byte[count]);
        return this;
    }

    public MessageWriter attrU8(int attrType, int value) {
        return attr(attrType, new byte[] {(byte) value});
    }

    public MessageWriter attrU16(int attrType, int value) {
        byte[] v = new byte[2];
        ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).putShort((short) value);
        return attr(attrType, v);
    }

    /** A 16-bit value in network byte order (ports). */
    public MessageWriter attrBe16(int attrType, int value) {
        return attr(attrType, new byte[] {(byte) (value >>> 8), (byte) value});
    }

    public MessageWriter attrU32(int attrType, int value) {
        byte[] v = new byte[4];
        ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).putInt(value);
        return attr(attrType, v);
    }

    /** A 32-bit value in network byte order (IPv4 netmasks). */
    public MessageWriter attrBe32(int attrType, int value) {
        byte[] v = new byte[4];
        ByteBuffer.wrap(v).order(ByteOrder.BIG_ENDIAN).putInt(value);
        return attr(attrType, v);
    }

    /** A NUL-terminated string (NLA_NUL_STRING / NLA_STRING both accept the trailing NUL). */
    public MessageWriter attrString(int attrType, String value) {
        byte[] s = value.getBytes(StandardCharsets.UTF_8);
        return attr(attrType, Arrays.copyOf(s, s.length + 1));
    }

    public MessageWriter attr(int attrType, byte[] value) {
        int len = Netlink.NLA_HDRLEN + value.length;
        if (len > 0xffff) {
            throw new IllegalArgumentException("attribute " + attrType + ": " + value.length
                    + " bytes (expected: at most " + (0xffff - Netlink.NLA_HDRLEN) + ")");
        }
        ByteBuffer b = ensure(Netlink.align(len));
        b.putShort((short) len).putShort((short) attrType).put(value);
        pad();
        return this;
    }

    /**
     * Opens a nested attribute (type with {@link Netlink#NLA_F_NESTED}); returns its offset for
     * {@link #endNested(int)}.
     */
    public int beginNested(int attrType) {
        int at = buf.position();
        ensure(Netlink.NLA_HDRLEN).putShort((short) 0).putShort((short) (attrType | Netlink.NLA_F_NESTED));
        openNests++;
        return at;
    }

    public MessageWriter endNested(int offset) {
        if (openNests == 0) {
            throw new IllegalStateException("endNested without beginNested");
        }
        buf.putShort(offset, (short) (buf.position() - offset));
        openNests--;
        return this;
    }

    /** The finished message bytes: header filled in with the total length, {@code seq} and {@code pid}. */
    public byte[] finish(int seq, int pid) {
        if (openNests != 0) {
            throw new IllegalStateException(openNests + " nested attribute(s) not closed");
        }
        int len = buf.position();
        buf.putInt(0, len).putShort(4, (short) type).putShort(6, (short) flags).putInt(8, seq).putInt(12, pid);
        return Arrays.copyOf(buf.array(), len);
    }

    private void pad() {
        int p = buf.position();
        int aligned = Netlink.align(p);
        while (p < aligned) {
            buf.put((byte) 0);
            p++;
        }
    }

    private ByteBuffer ensure(int more) {
        if (buf.remaining() < more) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + more))
                    .order(ByteOrder.nativeOrder());
            bigger.put(buf.array(), 0, buf.position());
            buf = bigger;
        }
        return buf;
    }
}
