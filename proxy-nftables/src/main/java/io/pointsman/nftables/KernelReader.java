package io.pointsman.nftables;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pointsman.core.model.IpAddresses;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Reads {@code nft -j list table} output into a {@link Table}: set declarations (as signatures),
 * static elements in the canonical text this backend writes, and chains with their rule counts.
 * Rule texts are not reconstructed: a sync that read the kernel rewrites every chain it keeps.
 */
final class KernelReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private KernelReader() {
    }

    /**
     * Parses the listing of one table.
     *
     * @throws IllegalArgumentException naming what could not be understood
     */
    static Table parse(String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("nft -j output: not JSON (" + e.getOriginalMessage() + ")", e);
        }
        JsonNode items = root.path("nftables");
        if (!items.isArray()) {
            throw new IllegalArgumentException("nft -j output: no \"nftables\" array");
        }
        Table t = new Table();
        Map<String, String> signatures = t.signatures;
        Map<String, Integer> ruleCounts = new HashMap<>();
        List<String> chainOrder = new ArrayList<>();
        for (JsonNode item : items) {
            if (item.has("set") || item.has("map")) {
                boolean isMap = item.has("map");
                JsonNode s = isMap ? item.get("map") : item.get("set");
                readSet(s, isMap, t, signatures);
            } else if (item.has("chain")) {
                String name = item.get("chain").path("name").asText();
                chainOrder.add(name);
                ruleCounts.putIfAbsent(name, 0);
            } else if (item.has("rule")) {
                ruleCounts.merge(item.get("rule").path("chain").asText(), 1, Integer::sum);
            }
        }
        for (String name : chainOrder) {
            // Placeholders: the count is right, the texts are unknown and never compared.
            t.chains.put(name, new ChainDef(name, null, Collections.nCopies(ruleCounts.get(name), "?")));
        }
        return t;
    }

    private static void readSet(JsonNode s, boolean isMap, Table t, Map<String, String> signatures) {
        String name = s.path("name").asText();
        List<String> flags = new ArrayList<>();
        for (JsonNode f : s.path("flags")) {
            flags.add(f.asText());
        }
        int timeout = s.path("timeout").asInt(0);
        StringBuilder sig = new StringBuilder(isMap ? "map" : "set").append(" type=").append(types(s.path("type")));
        if (isMap) {
            sig.append(" map=").append(s.path("map").asText());
        }
        sig.append(" flags=");
        boolean first = true;
        for (String f : flags) {
            if (!"dynamic".equals(f)) {
                sig.append(first ? "" : ",").append(f);
                first = false;
            }
        }
        sig.append(" timeout=").append(timeout);
        signatures.put(name, sig.toString());
        t.sets.put(name, new SetDef(name, "?", isMap ? "?" : null, false, flags, timeout, ""));
        if (flags.contains("timeout") || flags.contains("dynamic")) {
            return; // traffic-driven elements are not state a sync owns
        }
        Map<String, String> elements = null;
        for (JsonNode e : s.path("elem")) {
            if (elements == null) {
                elements = t.elementsOf(name);
            }
            if (isMap) {
                if (!e.isArray() || e.size() != 2) {
                    throw new IllegalArgumentException("map " + name + ": element " + e + " (expected: [key, value])");
                }
                elements.put(text(unwrap(e.get(0))), text(e.get(1)));
            } else {
                elements.put(text(unwrap(e)), "");
            }
        }
    }

    private static String types(JsonNode type) {
        if (type.isArray()) {
            StringBuilder b = new StringBuilder();
            for (JsonNode x : type) {
                if (b.length() > 0) {
                    b.append(" . ");
                }
                b.append(x.asText());
            }
            return b.toString();
        }
        return type.asText();
    }

    /** An element with a timeout or comment comes wrapped: {"elem": {"val": ...}}. */
    private static JsonNode unwrap(JsonNode e) {
        if (e.isObject() && e.has("elem")) {
            return e.get("elem").path("val");
        }
        return e;
    }

    /** nft's text of a JSON expression, in the canonical form this backend writes. */
    static String text(JsonNode e) {
        if (e.isTextual()) {
            String s = e.asText();
            return looksLikeAddress(s) ? IpAddresses.canonical(s) : s;
        }
        if (e.isNumber()) {
            return e.asText();
        }
        if (e.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> it = e.fields();
            if (!it.hasNext()) {
                throw new IllegalArgumentException("nft -j expression: {} (expected: one key)");
            }
            Map.Entry<String, JsonNode> f = it.next();
            JsonNode v = f.getValue();
            switch (f.getKey()) {
                case "concat": {
                    StringBuilder b = new StringBuilder();
                    for (JsonNode part : v) {
                        if (b.length() > 0) {
                            b.append(" . ");
                        }
                        b.append(text(part));
                    }
                    return b.toString();
                }
                case "prefix": {
                    String addr = IpAddresses.canonical(v.path("addr").asText());
                    int len = v.path("len").asInt();
                    int full = addr.indexOf(':') >= 0 ? 128 : 32;
                    return len == full ? addr : addr + "/" + len;
                }
                case "range":
                    return text(v.get(0)) + "-" + text(v.get(1));
                case "goto":
                case "jump":
                    return f.getKey() + " " + v.path("target").asText();
                case "elem":
                    return text(v.path("val"));
                default:
                    // Verdicts without a target: {"drop": null}, {"accept": null}, {"return": null}.
                    if (v == null || v.isNull()) {
                        return f.getKey();
                    }
                    throw new IllegalArgumentException("nft -j expression: " + e
                            + " (expected: an address, number, concatenation, prefix, range or verdict)");
            }
        }
        throw new IllegalArgumentException("nft -j expression: " + e
                + " (expected: an address, number, concatenation, prefix, range or verdict)");
    }

    private static boolean looksLikeAddress(String s) {
        if (s.isEmpty()) {
            return false;
        }
        if (s.indexOf(':') >= 0) {
            return IpAddresses.isValid(s);
        }
        char c = s.charAt(0);
        return c >= '0' && c <= '9' && s.indexOf('.') > 0 && IpAddresses.isValid(s);
    }
}
