package io.pointsman.nftables;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * The declaration of one nftables set or map.
 *
 * @param key the key as a {@code typeof} expression ("ip daddr . meta l4proto . th dport"), or
 *        with {@code typed} as nft type names ("ipv4_addr . inet_proto . inet_service")
 * @param data the data of a map, in the same form, "verdict" for a verdict map, null for a set
 * @param typed whether key and data are type names (declared with {@code type}) rather than
 *        {@code typeof} expressions
 * @param flags set flags ("interval", "dynamic", "timeout")
 * @param timeoutSeconds default element timeout, 0 for none
 * @param comment what the set is for, shown by {@code nft list}
 */
record SetDef(String name, String key, String data, boolean typed, List<String> flags, int timeoutSeconds,
              String comment) {

    SetDef {
        requireNonNull(name, "name");
        requireNonNull(key, "key");
        flags = List.copyOf(flags);
        comment = comment == null ? "" : comment;
    }

    boolean isMap() {
        return data != null;
    }

    /** Elements come and go with traffic (affinity): never compared, never written. */
    boolean dynamic() {
        return flags.contains("dynamic");
    }

    /** "set" or "map", as nft commands name the object. */
    String kind() {
        return isMap() ? "map" : "set";
    }

    /** The declaration body, as {@code add set} takes it between braces. */
    String body() {
        StringBuilder b = new StringBuilder(typed ? "{ type " : "{ typeof ").append(key);
        if (data != null) {
            b.append(" : ").append(data);
        }
        b.append(" ;");
        if (!flags.isEmpty()) {
            b.append(" flags ").append(String.join(",", flags)).append(" ;");
        }
        if (timeoutSeconds > 0) {
            b.append(" timeout ").append(timeoutSeconds).append("s ;");
        }
        if (!comment.isEmpty()) {
            b.append(" comment \"").append(comment).append("\" ;");
        }
        return b.append(" }").toString();
    }

    /**
     * What {@code nft -j list} reports of this declaration: key and data types, flags (without
     * "dynamic", which the JSON output leaves out) and timeout. Two declarations with the same
     * signature need no re-creation.
     */
    String signature() {
        StringBuilder b = new StringBuilder(kind()).append(" type=").append(typed ? key : types(key));
        if (data != null) {
            b.append(" map=").append("verdict".equals(data) || typed ? data : types(data));
        }
        b.append(" flags=");
        boolean first = true;
        for (String f : flags) {
            if (!"dynamic".equals(f)) {
                b.append(first ? "" : ",").append(f);
                first = false;
            }
        }
        return b.append(" timeout=").append(timeoutSeconds).toString();
    }

    /** The nft data types of a typeof concatenation ("ipv4_addr . inet_proto"). */
    static String types(String typeofExpr) {
        StringBuilder b = new StringBuilder();
        for (String part : typeofExpr.split(" \\. ")) {
            if (b.length() > 0) {
                b.append(" . ");
            }
            b.append(typeOf(part.strip()));
        }
        return b.toString();
    }

    private static String typeOf(String expr) {
        if (expr.startsWith("ip6 ")) {
            return "ipv6_addr";
        }
        if (expr.startsWith("ip ")) {
            return "ipv4_addr";
        }
        if (expr.equals("meta l4proto")) {
            return "inet_proto";
        }
        if (expr.endsWith(" dport") || expr.endsWith(" sport")) {
            return "inet_service";
        }
        if (expr.startsWith("numgen ")) {
            return "integer";
        }
        throw new IllegalArgumentException("typeof expression: " + expr
                + " (expected: ip/ip6 address, meta l4proto, a port or numgen)");
    }
}
