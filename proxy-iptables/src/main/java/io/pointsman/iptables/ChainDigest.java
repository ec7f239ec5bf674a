package io.pointsman.iptables;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What is compared of one chain without keeping its text: a hash of its rule lines, their
 * number, and a hash of their jump targets in order.
 *
 * <p>Two digests of our own rendering are compared by {@code content} (did the chain change?),
 * as are two digests of {@code iptables-save} output (did the kernel's copy change?). Our text and
 * the kernel's differ in spelling (iptables-save reorders matches and canonicalises values), so
 * across the two only {@code rules} and {@code targets} are compared: they survive the reprint.
 *
 * @param content 64-bit hash of the lines, newlines included
 * @param rules number of rule lines
 * @param targets hash of each line's "-j" target in order ("" for a rule without one)
 */
record ChainDigest(long content, int rules, long targets) {
    static final ChainDigest EMPTY = new Accumulator().digest();

    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    /** Whether the kernel's reprint of a chain holds the same rules as this rendering, as far as can be told. */
    boolean sameShape(ChainDigest other) {
        return rules == other.rules && targets == other.targets;
    }

    /** The digest of rule lines {@code text[from, to)}, each ending in '\n'. */
    static ChainDigest of(CharSequence text, int from, int to) {
        char[] b = copy(text, from, to);
        int n = to - from;
        Accumulator a = new Accumulator();
        int start = 0;
        for (int i = 0; i < n; i++) {
            if (b[i] == '\n') {
                a.line(b, start, i);
                start = i + 1;
            }
        }
        if (start < n) {
            a.line(b, start, n);
        }
        return a.digest();
    }

    /** The shape every endpoint chain has: the hairpin masquerade, then the DNAT. */
    private static final ChainDigest ENDPOINT_SHAPE = shape("-A X -j KUBE-MARK-MASQ", "-A X -j DNAT");

    /**
     * The digest of an endpoint (SEP) chain, from what fixes its text: its name (a hash of the
     * service port, protocol and endpoint) and whether session affinity is on. Spares hashing the
     * two thirds of a large payload that endpoint chains make up. (RendererFeaturesTest holds the
     * endpoint chains' text to this.)
     */
    static ChainDigest ofEndpointChain(String name, boolean affinity) {
        long h = FNV_OFFSET;
        for (int i = 0; i < name.length(); i++) {
            h = (h ^ name.charAt(i)) * FNV_PRIME;
        }
        return new ChainDigest(mix(h ^ (affinity ? 0x5a5a : 0x2c2c)), ENDPOINT_SHAPE.rules, ENDPOINT_SHAPE.targets);
    }

    /** The digest of the given rule lines; only its rule count and targets mean anything. */
    private static ChainDigest shape(String... lines) {
        Accumulator a = new Accumulator();
        for (String l : lines) {
            a.line(l.toCharArray(), 0, l.length());
        }
        return a.digest();
    }

    /** Scratch space for the text being digested: reading chars from an array is several times faster. */
    private static final ThreadLocal<char[]> BUFFER = ThreadLocal.withInitial(() -> new char[1 << 12]);

    private static char[] copy(CharSequence text, int from, int to) {
        char[] b = BUFFER.get();
        if (b.length < to - from) {
            b = new char[Math.max(to - from, b.length * 2)];
            // Kept for reuse up to a size every chain but the dispatch chains of big clusters fits in.
            if (b.length <= 1 << 16) {
                BUFFER.set(b);
            }
        }
        if (text instanceof StringBuilder sb) {
            sb.getChars(from, to, b, 0);
        } else if (text instanceof String str) {
            str.getChars(from, to, b, 0);
        } else {
            for (int i = from; i < to; i++) {
                b[i - from] = text.charAt(i);
            }
        }
        return b;
    }

    /**
     * One table as {@code iptables-save -t TABLE} printed it, reduced to digests.
     *
     * @param chains every chain declared, with the digest of its rules (EMPTY when none)
     * @param keptRules the rule lines of the chains asked for, as printed
     */
    record Saved(Map<String, ChainDigest> chains, Set<String> keptRules) {
    }

    /** Digests every chain of a save dump, keeping the rule lines of {@code keepRulesOf} verbatim. */
    static Saved ofSave(String save, Set<String> keepRulesOf) {
        Map<String, Accumulator> acc = new HashMap<>();
        Set<String> kept = new HashSet<>();
        Accumulator current = null;
        String currentChain = null;
        int len = save.length();
        int start = 0;
        while (start < len) {
            int end = save.indexOf('\n', start);
            if (end < 0) {
                end = len;
            }
            if (end > start) {
                char first = save.charAt(start);
                if (first == ':') {
                    int sp = save.indexOf(' ', start);
                    String name = save.substring(start + 1, sp < 0 || sp > end ? end : sp);
                    acc.putIfAbsent(name, new Accumulator());
                } else if (first == '-' && save.startsWith("-A ", start)) {
                    int sp = save.indexOf(' ', start + 3);
                    int nameEnd = sp < 0 || sp > end ? end : sp;
                    // iptables-save prints a chain's rules together: look the chain up once per run.
                    if (currentChain == null || !save.regionMatches(start + 3, currentChain, 0, currentChain.length())
                            || nameEnd - start - 3 != currentChain.length()) {
                        currentChain = save.substring(start + 3, nameEnd);
                        current = acc.computeIfAbsent(currentChain, k -> new Accumulator());
                    }
                    current.line(copy(save, start, end), 0, end - start);
                    if (keepRulesOf.contains(currentChain)) {
                        kept.add(save.substring(start, end));
                    }
                }
            }
            start = end + 1;
        }
        Map<String, ChainDigest> chains = new HashMap<>(acc.size() * 2);
        acc.forEach((k, v) -> chains.put(k, v.digest()));
        return new Saved(chains, kept);
    }

    /** Builds a digest line by line. */
    private static final class Accumulator {
        private long content = FNV_OFFSET;
        private long targets = FNV_OFFSET;
        private int rules;

        /** Adds line {@code b[from, to)} (without its newline). */
        void line(char[] b, int from, int to) {
            // Four chars a step: one multiply per step keeps a 44 MB render's digests cheap.
            long h = content;
            int i = from;
            for (; i + 4 <= to; i += 4) {
                long w = b[i] | (long) b[i + 1] << 16 | (long) b[i + 2] << 32 | (long) b[i + 3] << 48;
                h = (h ^ w) * FNV_PRIME;
                h ^= h >>> 31;
            }
            for (; i < to; i++) {
                h = (h ^ b[i]) * FNV_PRIME;
            }
            content = (h ^ '\n') * FNV_PRIME;
            // The target follows the last " -j ", near the end of the line.
            long t = FNV_OFFSET;
            for (int k = to - 4; k >= from; k--) {
                if (b[k] == ' ' && b[k + 1] == '-' && b[k + 2] == 'j' && b[k + 3] == ' ') {
                    for (int m = k + 4; m < to && b[m] != ' '; m++) {
                        t = (t ^ b[m]) * FNV_PRIME;
                    }
                    break;
                }
            }
            targets = (targets ^ mix(t)) * FNV_PRIME;
            rules++;
        }

        ChainDigest digest() {
            return new ChainDigest(mix(content ^ rules), rules, mix(targets));
        }
    }

    /** A 64-bit finaliser (MurmurHash3's fmix64): spreads FNV's weak high bits. */
    private static long mix(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }
}
