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
        Accumulator a = new Accumulator();
        int start = from;
        for (int i = from; i < to; i++) {
            if (text.charAt(i) == '\n') {
                a.line(text, start, i);
                start = i + 1;
            }
        }
        if (start < to) {
            a.line(text, start, to);
        }
        return a.digest();
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
                    current.line(save, start, end);
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

        /** Adds line {@code text[from, to)} (without its newline). */
        void line(CharSequence text, int from, int to) {
            long h = content;
            int lastJump = -1;
            for (int i = from; i < to; i++) {
                char c = text.charAt(i);
                h = (h ^ c) * FNV_PRIME;
                if (c == ' ' && i + 3 < to && text.charAt(i + 1) == '-' && text.charAt(i + 2) == 'j'
                        && text.charAt(i + 3) == ' ') {
                    lastJump = i + 4;
                }
            }
            content = (h ^ '\n') * FNV_PRIME;
            long t = FNV_OFFSET;
            if (lastJump >= 0) {
                for (int i = lastJump; i < to && text.charAt(i) != ' '; i++) {
                    t = (t ^ text.charAt(i)) * FNV_PRIME;
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
