package io.pointsman.ipvs.netlink;

import java.io.ByteArrayOutputStream;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Assumptions;

/**
 * Expected wire bytes written by hand from the uapi header layouts, as hex with free spacing;
 * "|" and anything after "//" on a line are ignored. Little-endian hosts only (x86-64, arm64):
 * the hand-written host-order fields assume it.
 */
public final class Bytes {
    private Bytes() {
    }

    public static void requireLittleEndian() {
        Assumptions.assumeTrue(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN,
                "expected bytes are written for little-endian hosts");
    }

    public static byte[] hex(String... lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String line : lines) {
            String l = line;
            int c = l.indexOf("//");
            if (c >= 0) {
                l = l.substring(0, c);
            }
            l = l.replace("|", "").replaceAll("\\s+", "");
            if (l.length() % 2 != 0) {
                throw new IllegalArgumentException("odd number of hex digits in: " + line);
            }
            for (int i = 0; i < l.length(); i += 2) {
                out.write(Integer.parseInt(l.substring(i, i + 2), 16));
            }
        }
        return out.toByteArray();
    }

    public static String toHex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < b.length; i++) {
            if (i > 0 && i % 4 == 0) {
                s.append(' ');
            }
            s.append(String.format("%02x", b[i] & 0xff));
        }
        return s.toString();
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
