package io.pointsman.nftables.netlink;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds netlink messages into one growable buffer: headers and attribute framing in host byte
 * order, values as the caller gives them (nf_tables wants network order for numbers).
 */
public final class MessageWriter {
    public static final int NLM_F_REQUEST = 0x1;
    public static final int NLM_F_ACK = 0x4;
    public static final int NLM_F_DUMP = 0x300;
    public static final int NLM_F_CREATE = 0x400;
    public static final int NLA_F_NESTED = 0x8000;

    private byte[] buf;
    private int pos;

    public MessageWriter(int capacity) {
        buf = new byte[Math.max(capacity, 256)];
    }

    public byte[] buffer() {
        return buf;
    }

    public int length() {
        return pos;
    }

    /** Empties the buffer; one grown for a bulk transaction is given back. */
    public void reset() {
        pos = 0;
        if (buf.length > (1 << 20)) {
            buf = new byte[1 << 16];
        }
    }

    /** Starts a message with its nfgenmsg header; answers its start for {@link #end(int)}. */
    public int begin(int type, int flags, int seq, int family, int resId) {
        int start = pos;
        ensure(20);
        putInt(0);
        putShort(type);
        putShort(flags);
        putInt(seq);
        putInt(0);
        buf[pos++] = (byte) family;
        buf[pos++] = 0; // NFNETLINK_V0
        buf[pos++] = (byte) (resId >> 8); // res_id is big endian
        buf[pos++] = (byte) resId;
        return start;
    }

    public void end(int start) {
        setInt(start, pos - start);
    }

    /** Starts a nested attribute; answers its start for {@link #endNest(int)}. */
    public int nest(int type) {
        int start = pos;
        ensure(4);
        putShort(0);
        putShort(type | NLA_F_NESTED);
        return start;
    }

    public void endNest(int start) {
        int len = pos - start;
        if (len > 0xffff) {
            throw new IllegalStateException("nested attribute of " + len + " bytes (expected: at most 65535)");
        }
        buf[start] = (byte) len;
        buf[start + 1] = (byte) (len >> 8);
        if (java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.BIG_ENDIAN) {
            buf[start] = (byte) (len >> 8);
            buf[start + 1] = (byte) len;
        }
    }

    /** Bytes written since {@code start}. */
    public int since(int start) {
        return pos - start;
    }

    public void attrString(int type, String value) {
        byte[] s = value.getBytes(StandardCharsets.UTF_8);
        attr(type, s, 0, s.length, true);
    }

    public void attrBytes(int type, byte[] value, int off, int len) {
        attr(type, value, off, len, false);
    }

    public void attrBe32(int type, int value) {
        byte[] v = {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
        attr(type, v, 0, 4, false);
    }

    private void attr(int type, byte[] value, int off, int len, boolean nul) {
        int alen = 4 + len + (nul ? 1 : 0);
        ensure(alen + 3);
        putShort(alen);
        putShort(type);
        System.arraycopy(value, off, buf, pos, len);
        pos += len;
        if (nul) {
            buf[pos++] = 0;
        }
        while ((pos & 3) != 0) {
            buf[pos++] = 0;
        }
    }

    private void putInt(int v) {
        setInt(pos, v);
        pos += 4;
    }

    private void putShort(int v) {
        ensure(2);
        if (java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN) {
            buf[pos] = (byte) v;
            buf[pos + 1] = (byte) (v >> 8);
        } else {
            buf[pos] = (byte) (v >> 8);
            buf[pos + 1] = (byte) v;
        }
        pos += 2;
    }

    private void setInt(int at, int v) {
        ensure(at + 4 - pos);
        if (java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN) {
            buf[at] = (byte) v;
            buf[at + 1] = (byte) (v >> 8);
            buf[at + 2] = (byte) (v >> 16);
            buf[at + 3] = (byte) (v >> 24);
        } else {
            buf[at] = (byte) (v >> 24);
            buf[at + 1] = (byte) (v >> 16);
            buf[at + 2] = (byte) (v >> 8);
            buf[at + 3] = (byte) v;
        }
    }

    private void ensure(int more) {
        if (pos + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more + 256));
        }
    }
}
