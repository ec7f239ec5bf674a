package io.pointsman.core.model;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Strict parsing and canonical formatting of IP literals and CIDRs. Never resolves host names:
 * anything that is not a literal is rejected before {@link InetAddress} sees it.
 */
public final class IpAddresses {
    private IpAddresses() {
    }

    /** Whether {@code text} is a valid IPv4 or IPv6 literal. */
    public static boolean isValid(String text) {
        try {
            canonical(text);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Canonical form of an IP literal: dotted quad for IPv4 (also for IPv4-mapped IPv6), RFC 5952
     * compressed lower case for IPv6.
     *
     * @throws IllegalArgumentException naming the value when it is not an IP literal
     */
    public static String canonical(String text) {
        byte[] bytes = parse(text);
        return format(bytes);
    }

    /** The address bytes (4 or 16) of an IP literal. */
    public static byte[] parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("IP address: \"\" (expected: an IPv4 or IPv6 literal)");
        }
        if (text.indexOf(':') < 0) {
            return parseV4(text);
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
                    || c == ':' || c == '.';
            if (!ok) {
                throw bad(text);
            }
        }
        try {
            byte[] b = InetAddress.getByName(text).getAddress();
            return b;
        } catch (UnknownHostException | SecurityException e) {
            throw bad(text);
        }
    }

    private static byte[] parseV4(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            throw bad(text);
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3) {
                throw bad(text);
            }
            int v = 0;
            for (int j = 0; j < p.length(); j++) {
                char c = p.charAt(j);
                if (c < '0' || c > '9') {
                    throw bad(text);
                }
                v = v * 10 + (c - '0');
            }
            if (v > 255) {
                throw bad(text);
            }
            out[i] = (byte) v;
        }
        return out;
    }

    private static IllegalArgumentException bad(String text) {
        return new IllegalArgumentException("IP address: \"" + text + "\" (expected: an IPv4 or IPv6 literal)");
    }

    /** Formats 4 or 16 address bytes canonically. */
    public static String format(byte[] b) {
        if (b.length == 4) {
            return (b[0] & 0xff) + "." + (b[1] & 0xff) + "." + (b[2] & 0xff) + "." + (b[3] & 0xff);
        }
        if (b.length != 16) {
            throw new IllegalArgumentException("address length: " + b.length + " (expected: 4 or 16)");
        }
        int[] w = new int[8];
        for (int i = 0; i < 8; i++) {
            w[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        // Longest run of two or more zero words becomes "::" (RFC 5952 section 4.2).
        int bestStart = -1, bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (w[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && w[j] == 0) {
                j++;
            }
            if (j - i > bestLen && j - i >= 2) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(w[i]));
        }
        return sb.toString();
    }

    /** Orders addresses numerically, IPv4 before IPv6. */
    public static int compare(String a, String b) {
        if (a.equals(b)) {
            return 0;
        }
        byte[] x = parse(a);
        byte[] y = parse(b);
        if (x.length != y.length) {
            return Integer.compare(x.length, y.length);
        }
        for (int i = 0; i < x.length; i++) {
            int c = Integer.compare(x[i] & 0xff, y[i] & 0xff);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    /**
     * Canonical form of a CIDR ("10.0.0.0/8"); the address part is masked to the prefix, as
     * Go's net.ParseCIDR reports the network. Surrounding blanks are trimmed, as upstream does
     * for loadBalancerSourceRanges.
     */
    public static String canonicalCidr(String text) {
        if (text == null) {
            throw new IllegalArgumentException("CIDR: null (expected: address/prefix)");
        }
        String t = text.trim();
        int slash = t.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("CIDR: \"" + text + "\" (expected: address/prefix)");
        }
        byte[] addr;
        int prefix;
        try {
            addr = parse(t.substring(0, slash));
            String p = t.substring(slash + 1);
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
                throw new NumberFormatException(p);
            }
            prefix = Integer.parseInt(p);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("CIDR: \"" + text + "\" (expected: address/prefix)");
        }
        if (prefix > addr.length * 8) {
            throw new IllegalArgumentException("CIDR: \"" + text + "\" (expected: prefix <= " + addr.length * 8 + ")");
        }
        for (int bit = prefix; bit < addr.length * 8; bit++) {
            addr[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        return format(addr) + "/" + prefix;
    }

    /** Whether {@code ip} lies inside {@code cidr} (both canonical or parseable). */
    public static boolean cidrContains(String cidr, String ip) {
        int slash = cidr.indexOf('/');
        byte[] net = parse(cidr.substring(0, slash));
        int prefix = Integer.parseInt(cidr.substring(slash + 1));
        byte[] a = parse(ip);
        if (a.length != net.length) {
            return false;
        }
        for (int bit = 0; bit < prefix; bit++) {
            int mask = 0x80 >>> (bit % 8);
            if ((a[bit / 8] & mask) != (net[bit / 8] & mask)) {
                return false;
            }
        }
        return true;
    }

    /** The IPs or CIDRs of one family; the same list when all are (the common case, no copy). */
    public static List<String> ofFamily(List<String> ipsOrCidrs, IpFamily family) {
        for (String a : ipsOrCidrs) {
            if (familyOf(a) != family) {
                return ipsOrCidrs.stream().filter(b -> familyOf(b) == family).toList();
            }
        }
        return ipsOrCidrs;
    }

    /** Family of a canonical IP or CIDR. */
    public static IpFamily familyOf(String ipOrCidr) {
        return ipOrCidr.indexOf(':') >= 0 ? IpFamily.IPv6 : IpFamily.IPv4;
    }

    static boolean isV6(InetAddress a) {
        return a instanceof Inet6Address;
    }
}
