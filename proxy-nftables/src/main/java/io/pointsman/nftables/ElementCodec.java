package io.pointsman.nftables;

import io.pointsman.core.model.IpAddresses;
import java.util.List;

/**
 * Element keys and values between this backend's canonical text ("10.96.0.1 . tcp . 80") and the
 * bytes nf_tables holds: addresses in network order, protocol one byte, port two bytes big endian;
 * in a concatenation every field is padded to 4 bytes (one 32-bit register).
 */
final class ElementCodec {
    private ElementCodec() {
    }

    /** The field types of a set's key. */
    static List<String> keyTypes(SetDef def) {
        return List.of((def.typed() ? def.key() : SetDef.types(def.key())).split(" \\. "));
    }

    /** The field types of a map's data, null for a set, ["verdict"] for a verdict map. */
    static List<String> dataTypes(SetDef def) {
        if (def.data() == null) {
            return null;
        }
        if ("verdict".equals(def.data())) {
            return List.of("verdict");
        }
        return List.of((def.typed() ? def.data() : SetDef.types(def.data())).split(" \\. "));
    }

    /** Whether elements of {@code def} can travel as plain values (no intervals, no traffic-made elements). */
    static boolean supported(SetDef def) {
        if (def.flags().contains("interval") || def.dynamic()) {
            return false;
        }
        for (String t : keyTypes(def)) {
            if (size(t) < 0) {
                return false;
            }
        }
        List<String> data = dataTypes(def);
        if (data != null && !data.equals(List.of("verdict"))) {
            for (String t : data) {
                if (size(t) < 0) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The value's length in bytes as the kernel stores it. */
    static int length(List<String> types) {
        if (types.size() == 1) {
            return size(types.get(0));
        }
        int n = 0;
        for (String t : types) {
            n += (size(t) + 3) & ~3;
        }
        return n;
    }

    static int size(String type) {
        return switch (type) {
            case "ipv4_addr" -> 4;
            case "ipv6_addr" -> 16;
            case "inet_proto" -> 1;
            case "inet_service" -> 2;
            default -> -1;
        };
    }

    /** The nft data type id of a field type, as NFTA_SET_KEY_TYPE carries it. */
    static int typeId(String type) {
        return switch (type) {
            case "ipv4_addr" -> 7;
            case "ipv6_addr" -> 8;
            case "inet_proto" -> 12;
            case "inet_service" -> 13;
            default -> throw new IllegalArgumentException("set field type: " + type
                    + " (expected: ipv4_addr, ipv6_addr, inet_proto or inet_service)");
        };
    }

    /** The type id of a concatenation: 6 bits per field, first field highest. */
    static int concatTypeId(List<String> types) {
        int id = 0;
        for (String t : types) {
            id = (id << 6) | typeId(t);
        }
        return id;
    }

    private static final int V4 = 1;
    private static final int V6 = 2;
    private static final int PROTO = 3;
    private static final int PORT = 4;

    /** A value's field types as codes, worked out once per set rather than per element. */
    record Layout(List<String> types, int[] codes) {
        static Layout of(List<String> types) {
            int[] codes = new int[types.size()];
            for (int i = 0; i < codes.length; i++) {
                codes[i] = switch (types.get(i)) {
                    case "ipv4_addr" -> V4;
                    case "ipv6_addr" -> V6;
                    case "inet_proto" -> PROTO;
                    case "inet_service" -> PORT;
                    default -> throw new IllegalArgumentException("set field type: " + types.get(i));
                };
            }
            return new Layout(List.copyOf(types), codes);
        }
    }

    /** Writes the bytes of {@code text} into {@code out} at {@code off}; answers the length. */
    static int encode(Layout layout, String text, byte[] out, int off) {
        int[] codes = layout.codes();
        int fields = codes.length;
        int p = off;
        int start = 0;
        for (int i = 0; i < fields; i++) {
            int sep = i == fields - 1 ? text.length() : text.indexOf(" . ", start);
            if (sep < 0) {
                return encode(layout.types(), text, out, off); // says what is wrong
            }
            int size;
            switch (codes[i]) {
                case V4 -> {
                    if (!parseV4(text, start, sep, out, p)) {
                        return encode(layout.types(), text, out, off);
                    }
                    size = 4;
                }
                case PORT -> {
                    int port = digits(text, start, sep);
                    if (port < 0 || port > 65535) {
                        return encode(layout.types(), text, out, off);
                    }
                    out[p] = (byte) (port >> 8);
                    out[p + 1] = (byte) port;
                    size = 2;
                }
                case PROTO -> {
                    int len = sep - start;
                    int n = len == 3 && text.startsWith("tcp", start) ? 6 : len == 3 && text.startsWith("udp", start) ? 17
                            : len == 4 && text.startsWith("sctp", start) ? 132 : -1;
                    if (n < 0) {
                        return encode(layout.types(), text, out, off);
                    }
                    out[p] = (byte) n;
                    size = 1;
                }
                default -> {
                    return encode(layout.types(), text, out, off);
                }
            }
            int padded = fields == 1 ? size : (size + 3) & ~3;
            for (int z = size; z < padded; z++) {
                out[p + z] = 0;
            }
            p += padded;
            start = sep + 3;
        }
        return p - off;
    }

    /** The decimal number between from and to, -1 when it is not one. */
    private static int digits(String text, int from, int to) {
        if (to <= from || to - from > 5) {
            return -1;
        }
        int v = 0;
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }

    /** Writes the bytes of {@code text} into {@code out} at {@code off}; answers the length. */
    static int encode(List<String> types, String text, byte[] out, int off) {
        int fields = types.size();
        int p = off;
        int start = 0;
        for (int i = 0; i < fields; i++) {
            int sep = i == fields - 1 ? text.length() : text.indexOf(" . ", start);
            if (sep < 0) {
                throw new IllegalArgumentException("element \"" + text + "\": " + (i + 1) + " field(s) (expected: "
                        + fields + ", " + String.join(" . ", types) + ")");
            }
            String type = types.get(i);
            int size = size(type);
            if (size == 4 && type.equals("ipv4_addr") && parseV4(text, start, sep, out, p)) {
                start = sep + 3;
                int padded = fields == 1 ? 4 : 4;
                p += padded;
                continue;
            }
            String field = text.substring(start, sep);
            start = sep + 3;
            switch (type) {
                case "ipv4_addr", "ipv6_addr" -> {
                    byte[] a = IpAddresses.parse(field);
                    if (a.length != size) {
                        throw new IllegalArgumentException("element \"" + text + "\": " + field + " (expected: an "
                                + (size == 4 ? "IPv4" : "IPv6") + " address)");
                    }
                    System.arraycopy(a, 0, out, p, size);
                }
                case "inet_proto" -> out[p] = (byte) protocolNumber(field);
                case "inet_service" -> {
                    int port = field.matches("[0-9]{1,5}") ? Integer.parseInt(field) : -1;
                    if (port < 0 || port > 65535) {
                        throw new IllegalArgumentException("element \"" + text + "\": port " + field
                                + " (expected: 0-65535)");
                    }
                    out[p] = (byte) (port >> 8);
                    out[p + 1] = (byte) port;
                }
                default -> throw new IllegalArgumentException("set field type: " + type);
            }
            int padded = fields == 1 ? size : (size + 3) & ~3;
            for (int z = size; z < padded; z++) {
                out[p + z] = 0;
            }
            p += padded;
        }
        return p - off;
    }

    /** The canonical text of a value's bytes. */
    static String decode(List<String> types, byte[] in, int off, int len) {
        if (len != length(types)) {
            throw new IllegalArgumentException("element of " + len + " bytes (expected: " + length(types) + " for "
                    + String.join(" . ", types) + ")");
        }
        StringBuilder b = new StringBuilder(40);
        int p = off;
        for (int i = 0; i < types.size(); i++) {
            String type = types.get(i);
            int size = size(type);
            if (i > 0) {
                b.append(" . ");
            }
            switch (type) {
                case "ipv4_addr" -> b.append(in[p] & 0xff).append('.').append(in[p + 1] & 0xff).append('.')
                        .append(in[p + 2] & 0xff).append('.').append(in[p + 3] & 0xff);
                case "ipv6_addr" -> {
                    byte[] a = new byte[16];
                    System.arraycopy(in, p, a, 0, 16);
                    b.append(IpAddresses.format(a));
                }
                case "inet_proto" -> b.append(protocolName(in[p] & 0xff));
                case "inet_service" -> b.append(((in[p] & 0xff) << 8) | (in[p + 1] & 0xff));
                default -> throw new IllegalArgumentException("set field type: " + type);
            }
            p += types.size() == 1 ? size : (size + 3) & ~3;
        }
        return b.toString();
    }

    /** Dotted-quad digits between from and to into out[at..at+3]; false when not plain digits (the slow path then complains). */
    private static boolean parseV4(String text, int from, int to, byte[] out, int at) {
        int part = 0;
        int value = 0;
        int digits = 0;
        for (int i = from; i < to; i++) {
            char ch = text.charAt(i);
            if (ch == '.') {
                if (digits == 0 || part == 3) {
                    return false;
                }
                out[at + part++] = (byte) value;
                value = 0;
                digits = 0;
            } else if (ch >= '0' && ch <= '9' && digits < 3) {
                value = value * 10 + (ch - '0');
                digits++;
                if (value > 255) {
                    return false;
                }
            } else {
                return false;
            }
        }
        if (part != 3 || digits == 0) {
            return false;
        }
        out[at + 3] = (byte) value;
        return true;
    }

    static int protocolNumber(String name) {
        return switch (name) {
            case "tcp" -> 6;
            case "udp" -> 17;
            case "sctp" -> 132;
            default -> {
                int n = name.matches("[0-9]{1,3}") ? Integer.parseInt(name) : -1;
                if (n < 0 || n > 255) {
                    throw new IllegalArgumentException("protocol: " + name + " (expected: tcp, udp, sctp or 0-255)");
                }
                yield n;
            }
        };
    }

    static String protocolName(int number) {
        return switch (number) {
            case 6 -> "tcp";
            case 17 -> "udp";
            case 132 -> "sctp";
            default -> Integer.toString(number);
        };
    }
}
