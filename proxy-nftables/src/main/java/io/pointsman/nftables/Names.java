package io.pointsman.nftables;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.ServicePortName;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Names of the few per-service objects (those of ClientIP affinity), in upstream's style:
 * {@code PREFIX-HASH-ns/svc/proto/port}, HASH the first 8 base32 characters of the SHA-256 of the
 * rest, so a name stays unique when it is cut to nftables' length limit.
 */
final class Names {
    /** nftables allows 255 characters; keep well below for readability of the cut. */
    static final int MAX = 200;
    private static final char[] BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".toCharArray();

    private Names() {
    }

    /** "ns/svc/proto/port". */
    static String servicePortId(ServicePortName name) {
        return name.namespace() + "/" + name.name() + "/" + name.protocol().lower() + "/" + name.port();
    }

    /** "ns/svc/proto/port__ip/port", IPv6 colons as dots (nft names may not hold colons). */
    static String endpointId(ServicePortName name, Endpoint ep) {
        return servicePortId(name) + "__" + ep.ip().replace(':', '.') + "/" + ep.port();
    }

    static String named(String prefix, String id) {
        String full = prefix + "-" + hash(id) + "-" + id;
        return full.length() <= MAX ? full : full.substring(0, MAX - 3) + "...";
    }

    /** The first 8 base32 characters of SHA-256(text). */
    static String hash(String text) {
        byte[] d;
        try {
            d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        // 8 characters of 5 bits = 40 bits = the first 5 bytes.
        long bits = 0;
        for (int i = 0; i < 5; i++) {
            bits = (bits << 8) | (d[i] & 0xff);
        }
        char[] out = new char[8];
        for (int i = 7; i >= 0; i--) {
            out[i] = BASE32[(int) (bits & 31)];
            bits >>>= 5;
        }
        return new String(out);
    }
}
