package io.pointsman.ipvs.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The attributes of one message or one nested attribute, parsed once: each {@code nlattr} is
 * u16 length (header included), u16 type (the {@link Netlink#NLA_F_NESTED} and
 * {@link Netlink#NLA_F_NET_BYTEORDER} bits masked off), the value, padding to 4 bytes.
 * Values are read in host order unless a method says network order.
 */
public final class Attributes {
    private final ByteBuffer buf;
    private final List<int[]> entries; // {type, valueOffset, valueLength}

    private Attributes(ByteBuffer buf, List<int[]> entries) {
        this.buf = buf;
        this.entries = entries;
    }

    /** Parses the attributes in {@code buf} from {@code start} (inclusive) to {@code end} (exclusive). */
    public static Attributes parse(ByteBuffer buf, int start, int end) throws NetlinkException {
        ByteBuffer b = buf.duplicate().order(ByteOrder.nativeOrder());
        List<int[]> entries = new ArrayList<>();
        int at = start;
        while (end - at >= Netlink.NLA_HDRLEN) {
            int len = b.getShort(at) & 0xffff;
            int type = b.getShort(at + 2) & Netlink.NLA_TYPE_MASK;
            if (len < Netlink.NLA_HDRLEN || len > end - at) {
                throw new NetlinkException("parse", "malformed attribute at offset " + at + ": length " + len
                        + " (expected: " + Netlink.NLA_HDRLEN + "-" + (end - at) + ")");
            }
            entries.add(new int[] {type, at + Netlink.NLA_HDRLEN, len - Netlink.NLA_HDRLEN});
            at += Netlink.align(len);
        }
        return new Attributes(b, Collections.unmodifiableList(entries));
    }

    public boolean has(int type) {
        return find(type) != null;
    }

    /** Attribute types in message order (repeats kept). */
    public List<Integer> types() {
        return entries.stream().map(e -> e[0]).toList();
    }

    public int size() {
        return entries.size();
    }

    public int u8(int type) throws NetlinkException {
        return buf.get(value(type, 1)[1]) & 0xff;
    }

    public int u16(int type) throws NetlinkException {
        return buf.getShort(value(type, 2)[1]) & 0xffff;
    }

    /** A 16-bit value stored in network byte order (ports). */
    public int be16(int type) throws NetlinkException {
        int at = value(type, 2)[1];
        return ((buf.get(at) & 0xff) << 8) | (buf.get(at + 1) & 0xff);
    }

    public int u32(int type) throws NetlinkException {
        return buf.getInt(value(type, 4)[1]);
    }

    /** A 32-bit value stored in network byte order. */
    public int be32(int type) throws NetlinkException {
        int at = value(type, 4)[1];
        return ((buf.get(at) & 0xff) << 24) | ((buf.get(at + 1) & 0xff) << 16) | ((buf.get(at + 2) & 0xff) << 8)
                | (buf.get(at + 3) & 0xff);
    }

    public long u64(int type) throws NetlinkException {
        return buf.getLong(value(type, 8)[1]);
    }

    public byte[] bytes(int type) throws NetlinkException {
        int[] e = value(type, 0);
        byte[] out = new byte[e[2]];
        buf.get(e[1], out);
        return out;
    }

    /** A string attribute, up to its first NUL. */
    public String string(int type) throws NetlinkException {
        byte[] b = bytes(type);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /** The attributes nested inside attribute {@code type}. */
    public Attributes nested(int type) throws NetlinkException {
        int[] e = value(type, 0);
        return parse(buf, e[1], e[1] + e[2]);
    }

    private int[] find(int type) {
        for (int[] e : entries) {
            if (e[0] == type) {
                return e;
            }
        }
        return null;
    }

    private int[] value(int type, int minLength) throws NetlinkException {
        int[] e = find(type);
        if (e == null) {
            throw new NetlinkException("parse", "attribute " + type + " missing (present: " + types() + ")");
        }
        if (e[2] < minLength) {
            throw new NetlinkException("parse", "attribute " + type + ": " + e[2] + " bytes (expected: at least "
                    + minLength + ")");
        }
        return e;
    }
}
