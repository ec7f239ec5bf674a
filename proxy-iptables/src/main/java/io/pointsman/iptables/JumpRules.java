package io.pointsman.iptables;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rules that lead from the built-in chains into ours (reference §2.1), spelled as
 * {@code iptables-save} prints them so that presence is a plain line comparison.
 */
final class JumpRules {
    private JumpRules() {
    }

    /** One jump: {@code -A SOURCE [match] [-m comment --comment "C"] -j TARGET} in {@code table}. */
    record Jump(String table, String source, String target, String match, String comment) {
        String ruleSpec() {
            StringBuilder b = new StringBuilder();
            if (!match.isEmpty()) {
                b.append(match).append(' ');
            }
            if (!comment.isEmpty()) {
                b.append("-m comment --comment \"").append(comment).append("\" ");
            }
            return b.append("-j ").append(target).toString();
        }

        /** The line iptables-save prints for it. */
        String saveLine() {
            return "-A " + source + " " + ruleSpec();
        }

        /** Inserts it as rule {@code position} (1-based) of its chain. */
        String insertLine(int position) {
            return "-I " + source + " " + position + " " + ruleSpec();
        }
    }

    private static final String NEW = "-m conntrack --ctstate NEW";

    /** Upstream's iptablesJumpChains then iptablesKubeletJumpChains, in upstream's order. */
    static final List<Jump> ALL = List.of(
            new Jump("filter", "INPUT", IptablesRenderer.KUBE_EXTERNAL_SERVICES, NEW,
                    "kubernetes externally-visible service portals"),
            new Jump("filter", "FORWARD", IptablesRenderer.KUBE_EXTERNAL_SERVICES, NEW,
                    "kubernetes externally-visible service portals"),
            new Jump("filter", "INPUT", IptablesRenderer.KUBE_NODEPORTS, "", "kubernetes health check service ports"),
            new Jump("filter", "FORWARD", IptablesRenderer.KUBE_SERVICES, NEW, "kubernetes service portals"),
            new Jump("filter", "OUTPUT", IptablesRenderer.KUBE_SERVICES, NEW, "kubernetes service portals"),
            new Jump("filter", "FORWARD", IptablesRenderer.KUBE_FORWARD, "", "kubernetes forwarding rules"),
            new Jump("filter", "INPUT", IptablesRenderer.KUBE_PROXY_FIREWALL, NEW, "kubernetes load balancer firewall"),
            new Jump("filter", "OUTPUT", IptablesRenderer.KUBE_PROXY_FIREWALL, NEW, "kubernetes load balancer firewall"),
            new Jump("filter", "FORWARD", IptablesRenderer.KUBE_PROXY_FIREWALL, NEW,
                    "kubernetes load balancer firewall"),
            new Jump("nat", "OUTPUT", IptablesRenderer.KUBE_SERVICES, "", "kubernetes service portals"),
            new Jump("nat", "PREROUTING", IptablesRenderer.KUBE_SERVICES, "", "kubernetes service portals"),
            new Jump("nat", "POSTROUTING", IptablesRenderer.KUBE_POSTROUTING, "", "kubernetes postrouting rules"),
            // Shared with kubelet, which owns the chain's rule when localhost NodePorts are off.
            new Jump("filter", "INPUT", IptablesRenderer.KUBE_FIREWALL, "", ""),
            new Jump("filter", "OUTPUT", IptablesRenderer.KUBE_FIREWALL, "", ""));

    /**
     * What a sync adds to {@code table} so every jump exists: a declaration for each target chain
     * the payload does not declare and the kernel lacks (declaring an existing chain would flush
     * it), and an insert for each jump the kernel lacks.
     *
     * <p>A new node gets the jumps as upstream's prepends leave them: at the top of each built-in
     * chain, the last one ensured first. A jump found missing later goes right after the one of
     * ours that precedes it in that order (at the top when none does), so a repaired chain reads
     * as a fresh one and KUBE-FIREWALL's localnet drop still comes before any accept.
     *
     * @param declared chains the rendered payload declares in this table
     */
    static IptablesRenderer.Extra missing(String table, SavedTable saved, Set<String> declared) {
        List<String> chainLines = new ArrayList<>();
        List<String> ruleLines = new ArrayList<>();
        Map<String, List<Jump>> bySource = new LinkedHashMap<>();
        for (Jump j : ALL) {
            if (!j.table().equals(table)) {
                continue;
            }
            String decl = ":" + j.target() + " - [0:0]";
            if (!declared.contains(j.target()) && !saved.chains().contains(j.target()) && !chainLines.contains(decl)) {
                chainLines.add(decl);
            }
            bySource.computeIfAbsent(j.source(), k -> new ArrayList<>()).add(0, j); // prepends reverse the order
        }
        // Each source chain's rules as the kernel will hold them after each insert so far.
        Map<String, List<String>> sourceRules = new HashMap<>();
        for (String rule : saved.rules()) {
            String chain = SavedTable.chainOf(rule);
            if (bySource.containsKey(chain)) {
                sourceRules.computeIfAbsent(chain, k -> new ArrayList<>()).add(rule);
            }
        }
        for (Map.Entry<String, List<Jump>> e : bySource.entrySet()) {
            List<String> rules = sourceRules.getOrDefault(e.getKey(), new ArrayList<>());
            int after = -1;
            for (Jump j : e.getValue()) {
                int at = rules.indexOf(j.saveLine());
                if (at < 0) {
                    at = after + 1;
                    rules.add(at, j.saveLine());
                    ruleLines.add(j.insertLine(at + 1));
                }
                after = at;
            }
        }
        return new IptablesRenderer.Extra(chainLines, ruleLines, List.of());
    }
}
