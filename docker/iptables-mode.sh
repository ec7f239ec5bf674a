#!/bin/sh
# Decides whether this image's iptables, iptables-save and iptables-restore (and the ip6tables
# ones) must drive the kernel through nf_tables ("nft") or the old xtables interface ("legacy").
# Rules written through one are invisible to the other, so Pointsman must use the backend the
# node's kubelet and network plugin use. Run inside the node's network namespace (hostNetwork).
#
#   pointsman-iptables-mode detect   print "nft" or "legacy" (the reason goes to stderr)
#   pointsman-iptables-mode select   detect, then point the iptables alternatives at that backend
#
# How it decides, first match wins:
#   1. POINTSMAN_IPTABLES_MODE=nft or legacy (an operator's override);
#   2. the backend holding the chain the kubelet creates to mark its choice
#      (KUBE-IPTABLES-HINT, or KUBE-KUBELET-CANARY, in the mangle table), nft looked at first;
#   3. the backend holding more rules (IPv4 and IPv6 together); nft when tied (both empty).
set -eu

say() {
    echo "pointsman-iptables-mode: $*" >&2
}

# Prints a backend's whole ruleset (both families); prints nothing where the backend or the
# permission to read it is missing. Never names a table (-t): asking for a legacy table that
# does not exist yet would create it, and iptables-nft would then warn about legacy tables forever.
saved() {
    for family in iptables ip6tables; do
        if command -v "$family-$1-save" >/dev/null 2>&1; then
            "$family-$1-save" 2>/dev/null || true
        fi
    done
}

# The kubelet's marker chains (mangle table), in a saved ruleset on stdin.
has_hint() {
    grep -Eq '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) '
}

rule_count() {
    grep -c '^-' || true
}

detect() {
    case "${POINTSMAN_IPTABLES_MODE:-auto}" in
        nft|legacy)
            say "using $POINTSMAN_IPTABLES_MODE (set by POINTSMAN_IPTABLES_MODE)"
            echo "$POINTSMAN_IPTABLES_MODE"
            return 0
            ;;
        auto|"")
            ;;
        *)
            say "POINTSMAN_IPTABLES_MODE=$POINTSMAN_IPTABLES_MODE (expected: nft, legacy or auto)"
            return 2
            ;;
    esac
    nft_rules=$(saved nft)
    legacy_rules=$(saved legacy)
    if printf '%s\n' "$nft_rules" | has_hint; then
        say "using nft: the kubelet's hint chain is in the nft tables"
        echo nft
        return 0
    fi
    if printf '%s\n' "$legacy_rules" | has_hint; then
        say "using legacy: the kubelet's hint chain is in the legacy tables"
        echo legacy
        return 0
    fi
    nft=$(printf '%s\n' "$nft_rules" | rule_count)
    legacy=$(printf '%s\n' "$legacy_rules" | rule_count)
    if [ "$legacy" -gt "$nft" ]; then
        say "using legacy: it holds $legacy rules, nft $nft"
        echo legacy
    else
        say "using nft: it holds $nft rules, legacy $legacy"
        echo nft
    fi
}

select_mode() {
    mode=$(detect)
    for family in iptables ip6tables; do
        # Debian's alternatives switch iptables, iptables-save and iptables-restore together.
        update-alternatives --quiet --set "$family" "/usr/sbin/$family-$mode"
    done
}

case "${1:-}" in
    detect) detect ;;
    select) select_mode ;;
    *)
        say "usage: pointsman-iptables-mode detect|select"
        exit 2
        ;;
esac
