#!/usr/bin/env bash
# Benchmark of the iptables mode (not a test): N Services x M endpoints against a real kernel,
# for each iptables flavour this machine has, inside throwaway network namespaces.
#
#   sudo scripts/bench-iptables.sh            # N = 1000 and 10000, M = 10
#   BENCH_SERVICES="1000 2000" BENCH_ENDPOINTS=5 BENCH_TIMEOUT=300 scripts/bench-iptables.sh
#
# Prints, per flavour and N: the full sync (and its parts: restore process, save process,
# Pointsman's own time), the bare restore tool on the same payload and the ratio, rendering alone,
# one-endpoint changes (payload size and time), a drift check, and peak RSS; then a summary table.
# Each run is bounded by BENCH_TIMEOUT seconds (default 300) and reports what finished.
# iptables-nft-restore grows superlinearly with the ruleset (see BENCHMARKS.md): a size above
# BENCH_NFT_MAX (default 1000) is skipped for nft, saying so. Needs root; touches only the
# namespaces it creates (pm-bench-*) and deletes them.
set -euo pipefail
cd "$(dirname "$0")/.."

services=${BENCH_SERVICES:-"1000 10000"}
endpoints=${BENCH_ENDPOINTS:-10}
timeout_s=${BENCH_TIMEOUT:-300}
nft_max=${BENCH_NFT_MAX:-1000}
changes=${BENCH_CHANGES:-5}

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-iptables: needs root (network namespaces and iptables)" >&2
  exit 1
fi
for tool in ip nsenter java mvn /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-iptables: $tool not found" >&2; exit 1; }
done

echo "== building (proxy-core, proxy-iptables test classes)"
mvn -B -q install -DskipTests -pl proxy-core -am >/dev/null
mvn -B -q -pl proxy-iptables test-compile dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench-classpath.txt >/dev/null
cp="proxy-iptables/target/test-classes:proxy-iptables/target/classes:$(cat proxy-iptables/target/bench-classpath.txt)"

namespaces=()
cleanup() {
  for ns in "${namespaces[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT

# Creates namespace pm-bench-NAME-PID, remembered for deletion at exit; sets $ns.
newns() {
  ns="pm-bench-$1-$$"
  ip netns add "$ns"
  namespaces+=("$ns")
  ip netns exec "$ns" ip link set lo up
}

flavours=()
for f in nft legacy; do
  if ! command -v "xtables-$f-multi" >/dev/null; then
    echo "== $f: xtables-$f-multi not installed, skipped"
    continue
  fi
  newns probe-$f
  if ! ip netns exec "$ns" "xtables-$f-multi" iptables -w -t nat -S >/dev/null 2>&1; then
    echo "== $f: this kernel cannot hold its tables, skipped"
    continue
  fi
  flavours+=("$f")
done

results=$(mktemp)
trap 'cleanup; rm -f "$results"' EXIT
echo "== load before starting: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores: other work on the machine skews times)"
for f in "${flavours[@]}"; do
  for n in $services; do
    if [ "$f" = nft ] && [ "$n" -gt "$nft_max" ]; then
      echo "== nft N=$n: skipped: iptables-nft-restore is strongly superlinear here (measured beforehand:"
      echo "   1,000 x 10 in ~5 s, 3,000 in ~122 s), so $n would not finish within ${timeout_s} s;"
      echo "   BENCH_NFT_MAX=$n runs it anyway"
      echo "RESULT $f $n $endpoints skipped 1" >>"$results"
      continue
    fi
    newns a-$f-$n; a=$ns
    newns b-$f-$n; b=$ns
    echo "== $f N=$n M=$endpoints (timeout ${timeout_s} s)"
    start=$(date +%s)
    set +e
    timeout "$timeout_s" java -Xmx2g -cp "$cp" io.pointsman.iptables.bench.IptablesBench \
      "$f" "$a" "$b" "$n" "$endpoints" "$changes" | tee -a "$results" | grep -v '^RESULT'
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -eq 124 ]; then
      echo "   !! did not finish within ${timeout_s} s; the figures above are what finished"
      echo "RESULT $f $n $endpoints timeout 1" >>"$results"
    elif [ "$rc" -ne 0 ]; then
      echo "   !! failed (exit $rc)"
    fi
    echo "   (run took $(( $(date +%s) - start )) s)"
    ip netns del "$a"; ip netns del "$b"
  done
done

echo
echo "== summary (ms unless noted; own = everything but the restore/save processes)"
awk '
  $1 == "RESULT" { key = $2 " " $3; v[key, $5] = $6; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
  END {
    printf "| flavour | N | first full sync | its restore | Pointsman | own %% | bare restore | sync/bare | repeated full sync | Pointsman | own %% | bare | sync/bare | render | change lines | change sync | change own (max) | drift check | JVM RSS MB |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, " ")
      if (v[k, "skipped"] != "") { printf "| %s | %s | skipped |\n", p[1], p[2]; continue }
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s |%s\n",
        p[1], p[2], v[k, "full_ms"], v[k, "full_restore_ms"], v[k, "full_own_ms"], pct(v[k, "full_own_ms"], v[k, "full_ms"]),
        v[k, "bare_full_ms"], ratio(v[k, "full_ms"], v[k, "bare_full_ms"]),
        v[k, "refull_ms"], v[k, "refull_own_ms"], pct(v[k, "refull_own_ms"], v[k, "refull_ms"]),
        v[k, "bare_refull_ms"], ratio(v[k, "refull_ms"], v[k, "bare_refull_ms"]), v[k, "render_ms"],
        v[k, "change_payload_lines"], v[k, "change_sync_ms"], v[k, "change_own_ms"], v[k, "change_own_max_ms"],
        v[k, "drift_ms"], v[k, "jvm_rss_mb"], (v[k, "timeout"] != "" ? " (timed out)" : "")
    }
  }
  function pct(a, b) { return (a != "" && b != "" && b > 0) ? sprintf("%.1f%%", 100 * a / b) : "" }
  function ratio(a, b) { return (a != "" && b != "" && b > 0) ? sprintf("%.2f", a / b) : "" }
' "$results"
