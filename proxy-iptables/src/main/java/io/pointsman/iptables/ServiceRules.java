package io.pointsman.iptables;

import io.pointsman.core.model.ServicePortName;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One service port's rules in one IP family, as rendered: its fragment of each dispatch chain
 * (nat KUBE-SERVICES, filter KUBE-EXTERNAL-SERVICES, ...) and its own chains (SVC, SVL, EXT, FW,
 * SEP), the latter kept only as digests. A sync keeps the one last written per service port, so
 * the next can tell which chains changed without keeping their text.
 */
final class ServiceRules {
    /** Above this many chains, lookups by name build a map instead of scanning. */
    private static final int SCAN_LIMIT = 16;

    final ServicePortName name;
    /** The 16-character suffix of its SVC/SVL/EXT/FW chains. */
    final String hash;
    /** Its rules in each top-level chain, by {@link TopChain} ordinal; null where it has none. */
    private final String[] entries;
    final int natEntryRules;
    final int filterEntryRules;
    /** Its own chains, in declaration order (EXT, FW, SVC, SVL, then one SEP per endpoint). */
    private final String[] chains;
    /** "ip:port" of each SEP chain, null for the other chains: lets the next render reuse the names. */
    private final String[] hostPorts;
    /**
     * Start and end offset of each chain's rule lines in the buffer this was rendered into. Only
     * meaningful until that buffer is reused: the caller copies what it writes right away.
     */
    private final int[] spans;
    private final ChainDigest[] digests;
    /**
     * The content digest iptables-save printed for each chain after it was written, 0 until a
     * drift check has seen it. Mutable: filled in by drift checks, carried over by later renders
     * of an unchanged chain.
     */
    final long[] saved;
    final boolean noLocalInternal;
    final boolean noLocalExternal;
    private Map<String, Integer> indexByChain;
    private Map<String, String> sepByHostPort;

    ServiceRules(ServicePortName name, String hash, String[] entries, String[] chains, String[] hostPorts,
                 int[] spans, ChainDigest[] digests, boolean noLocalInternal, boolean noLocalExternal) {
        this.name = name;
        this.hash = hash;
        this.entries = entries;
        this.chains = chains;
        this.hostPorts = hostPorts;
        this.spans = spans;
        this.digests = digests;
        this.saved = new long[chains.length];
        this.noLocalInternal = noLocalInternal;
        this.noLocalExternal = noLocalExternal;
        int nat = 0;
        int filter = 0;
        for (TopChain c : TopChain.DISPATCH) {
            String e = entries[c.ordinal()];
            if (e != null) {
                int n = lines(e);
                if (c.nat()) {
                    nat += n;
                } else {
                    filter += n;
                }
            }
        }
        this.natEntryRules = nat;
        this.filterEntryRules = filter;
    }

    /** Its rule lines in top-level chain {@code c}, "" when none. */
    String entry(TopChain c) {
        String e = entries[c.ordinal()];
        return e == null ? "" : e;
    }

    int chainCount() {
        return chains.length;
    }

    String chain(int i) {
        return chains[i];
    }

    List<String> chains() {
        return List.of(chains);
    }

    ChainDigest digest(int i) {
        return digests[i];
    }

    int spanStart(int i) {
        return spans[2 * i];
    }

    int spanEnd(int i) {
        return spans[2 * i + 1];
    }

    /** Rules in its own chains. */
    int chainRules() {
        int n = 0;
        for (ChainDigest d : digests) {
            n += d.rules();
        }
        return n;
    }

    /** Every nat rule it owns: its own chains and its dispatch rules. */
    int natRules() {
        return natEntryRules + chainRules();
    }

    /** Index of {@code chain} among its own chains, -1 when it has no such chain. */
    int indexOf(String chain) {
        if (chains.length <= SCAN_LIMIT) {
            for (int i = 0; i < chains.length; i++) {
                if (chains[i].equals(chain)) {
                    return i;
                }
            }
            return -1;
        }
        if (indexByChain == null) {
            indexByChain = new HashMap<>(chains.length * 2);
            for (int i = 0; i < chains.length; i++) {
                indexByChain.put(chains[i], i);
            }
        }
        return indexByChain.getOrDefault(chain, -1);
    }

    /** The SEP chain it had for endpoint "ip:port", null when none. */
    String sepFor(String hostPort) {
        if (chains.length <= SCAN_LIMIT) {
            for (int i = 0; i < hostPorts.length; i++) {
                if (hostPort.equals(hostPorts[i])) {
                    return chains[i];
                }
            }
            return null;
        }
        if (sepByHostPort == null) {
            sepByHostPort = new HashMap<>(chains.length * 2);
            for (int i = 0; i < chains.length; i++) {
                if (hostPorts[i] != null) {
                    sepByHostPort.put(hostPorts[i], chains[i]);
                }
            }
        }
        return sepByHostPort.get(hostPort);
    }

    @Override
    public String toString() {
        return name + " " + Arrays.toString(chains);
    }

    private static int lines(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == '\n') {
                n++;
            }
        }
        return n;
    }
}
