package io.pointsman.iptables;

import io.pointsman.core.model.ServicePortName;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Upstream kube-proxy's chain names. The 16-character suffix is the start of the standard
 * base32 encoding of a SHA-256 digest, so a node can switch between kube-proxy and Pointsman
 * without renaming a chain.
 */
public final class ChainNames {
    public static final String SERVICE_PREFIX = "KUBE-SVC-";
    public static final String LOCAL_PREFIX = "KUBE-SVL-";
    public static final String EXTERNAL_PREFIX = "KUBE-EXT-";
    public static final String FIREWALL_PREFIX = "KUBE-FW-";
    public static final String ENDPOINT_PREFIX = "KUBE-SEP-";

    private static final char[] BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".toCharArray();

    /** MessageDigest is not thread-safe and costly to look up; one per thread is both safe and cheap. */
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM (every Java SE runtime has it)", e);
        }
    });

    private ChainNames() {
    }

    /** The suffix shared by a service port's SVC, SVL, EXT and FW chains: hash of "ns/name:port" + "tcp". */
    public static String serviceHash(ServicePortName name) {
        return hash16(name.toString() + name.protocol().lower());
    }

    /** The suffix of an endpoint chain: hash of "ns/name:port" + "tcp" + "ip:port" ("[ip]:port" for IPv6). */
    public static String endpointHash(ServicePortName name, String hostPort) {
        return endpointHash(hashInput(name), hostPort);
    }

    /** The bytes every hash of a service port starts with: "ns/name:port" + "tcp". */
    static byte[] hashInput(ServicePortName name) {
        return (name.toString() + name.protocol().lower()).getBytes(StandardCharsets.UTF_8);
    }

    /** {@link #endpointHash(ServicePortName, String)} with the service's bytes computed once for all its endpoints. */
    static String endpointHash(byte[] serviceInput, String hostPort) {
        MessageDigest md = SHA256.get();
        md.update(serviceInput);
        // "ip:port" is ASCII, so this is its UTF-8 encoding too.
        md.update(hostPort.getBytes(StandardCharsets.US_ASCII));
        return base32Prefix(md.digest());
    }

    public static String serviceChain(ServicePortName name) {
        return SERVICE_PREFIX + serviceHash(name);
    }

    public static String localChain(ServicePortName name) {
        return LOCAL_PREFIX + serviceHash(name);
    }

    public static String externalChain(ServicePortName name) {
        return EXTERNAL_PREFIX + serviceHash(name);
    }

    public static String firewallChain(ServicePortName name) {
        return FIREWALL_PREFIX + serviceHash(name);
    }

    public static String endpointChain(ServicePortName name, String hostPort) {
        return ENDPOINT_PREFIX + endpointHash(name, hostPort);
    }

    /** Upstream's local-traffic chains before 1.24 (now SVL and EXT): only ever stale. */
    public static final String OLD_LOCAL_PREFIX = "KUBE-XLB-";
    /** Upstream's empty chain for noticing a flush of its tables; Pointsman checks every chain instead. */
    public static final String CANARY = "KUBE-PROXY-CANARY";

    /** Whether a chain is one of the per-service or per-endpoint chains (never a top-level chain). */
    public static boolean isServiceChain(String chain) {
        return chain.startsWith(SERVICE_PREFIX) || chain.startsWith(LOCAL_PREFIX) || chain.startsWith(EXTERNAL_PREFIX)
                || chain.startsWith(FIREWALL_PREFIX) || chain.startsWith(ENDPOINT_PREFIX);
    }

    /**
     * Whether a chain is a per-service chain of this or an older upstream layout: the chains a
     * full sync deletes when the state no longer needs them.
     */
    public static boolean isStaleCandidate(String chain) {
        return isServiceChain(chain) || chain.startsWith(OLD_LOCAL_PREFIX);
    }

    /** base32(sha256(text))[:16]: 16 characters of 5 bits are exactly the first 10 digest bytes. */
    static String hash16(String text) {
        return base32Prefix(SHA256.get().digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    private static String base32Prefix(byte[] d) {
        char[] out = new char[16];
        long bits = 0;
        int held = 0;
        int o = 0;
        for (int i = 0; i < 10; i++) {
            bits = (bits << 8) | (d[i] & 0xff);
            held += 8;
            while (held >= 5) {
                held -= 5;
                out[o++] = BASE32[(int) (bits >>> held) & 31];
            }
        }
        return new String(out);
    }
}
