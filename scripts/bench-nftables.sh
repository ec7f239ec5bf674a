#!/usr/bin/env bash
# Benchmark of the nftables mode (not a test): N ClusterIP Services x M endpoints against a real
# kernel, inside throwaway network namespaces.
#
#   sudo scripts/bench-nftables.sh            # N = 1000, 10000 and 50000, M = 10
#   BENCH_SERVICES="1000 2000" BENCH_ENDPOINTS=5 BENCH_TIMEOUT=300 scripts/bench-nftables.sh
#
# For each N, in one JVM run (io.pointsman.nftables.bench.NftablesBench):
#   * Pointsman's first full sync into an empty namespace (rendering, nft -f of the structure,
#     one netlink transaction of the elements), in a cold JVM, and again once the JIT is warm;
#   * one-endpoint changes (each one netlink transaction), median and max;
#   * a restart: a new backend reads the table back through netlink, compares, writes no element;
#   * a drift check (what the daemon runs every sync period): read back and compare;
#   * an upstream-style ruleset for the same Services (a chain per service port and per endpoint,
#     upstream kube-proxy's documented nftables layout) loaded with nft -f into another namespace,
#     and one endpoint change in it (new endpoint chain, service chain rewritten, old chain gone);
#   * the ratios.
# Each N is bounded by BENCH_TIMEOUT seconds (default 240) as a whole, and the upstream-style load
# by BENCH_UPSTREAM_TIMEOUT (default 90); what finished is reported. Needs root; touches only the
# namespaces it creates (pm-bench-nft-*) and deletes them.
set -euo pipefail
cd "$(dirname "$0")/.."

services=${BENCH_SERVICES:-"1000 10000 50000"}
endpoints=${BENCH_ENDPOINTS:-10}
timeout_s=${BENCH_TIMEOUT:-240}
upstream_timeout_s=${BENCH_UPSTREAM_TIMEOUT:-90}
changes=${BENCH_CHANGES:-9}

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-nftables: needs root (network namespaces and nftables)" >&2
  exit 1
fi
for tool in ip nft java mvn; do
  command -v "$tool" >/dev/null || { echo "bench-nftables: $tool not found" >&2; exit 1; }
done

echo "== building (proxy-core, proxy-nftables test classes)"
mvn -B -q install -DskipTests -pl proxy-core -am >/dev/null
mvn -B -q -pl proxy-nftables test-compile dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench-classpath.txt >/dev/null
cp="proxy-nftables/target/test-classes:proxy-nftables/target/classes:$(cat proxy-nftables/target/bench-classpath.txt)"

namespaces=()
results=$(mktemp)
cleanup() {
  for ns in "${namespaces[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "$results"
}
trap cleanup EXIT

newns() {
  ns="pm-bench-nft-$1-$$"
  ip netns add "$ns"
  namespaces+=("$ns")
  ip netns exec "$ns" ip link set lo up
}

echo "== nft $(nft --version | cut -d' ' -f2), kernel $(uname -r), $(nproc) cores"
echo "== load before starting: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews times)"
for n in $services; do
  newns p-$n; p=$ns
  newns u-$n; u=$ns
  echo "== N=$n M=$endpoints (timeout ${timeout_s} s, upstream-style load ${upstream_timeout_s} s)"
  start=$(date +%s)
  set +e
  timeout "$timeout_s" java -Xmx4g -Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener \
    -cp "$cp" io.pointsman.nftables.bench.NftablesBench "$p" "$u" "$n" "$endpoints" "$changes" "$upstream_timeout_s" \
    | sed -u "s/^RESULT /RESULT $n /" | tee -a "$results" | grep -v '^RESULT'
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -eq 124 ]; then
    echo "   !! did not finish within ${timeout_s} s; the figures above are what finished"
  elif [ "$rc" -ne 0 ]; then
    echo "   !! failed (exit $rc)"
  fi
  echo "   (run took $(( $(date +%s) - start )) s)"
  ip netns del "$p"; ip netns del "$u"
done

echo
echo "== summary (ms; x = how many times faster Pointsman is)"
awk '
  $1 == "RESULT" { n = $2; v[n, $3] = $4; if (!(n in seen)) { seen[n] = 1; order[++count] = n } }
  END {
    printf "| N x M | Pointsman first full sync (cold JVM) | its CPU | again, warm JVM | upstream-style nft -f | its CPU | x (wall, cold) | Pointsman 1-endpoint change (median / max) | upstream-style change | x | restart (read back, compare) | drift check |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= count; i++) {
      n = order[i]
      up = v[n, "upstream_full_ms"] != "" ? sprintf("%.0f", v[n, "upstream_full_ms"]) \
         : (v[n, "upstream_full_timeout_s"] != "" ? sprintf("> %d s (stopped)", v[n, "upstream_full_timeout_s"]) : "")
      printf "| %s x %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |\n", n, "'"$endpoints"'",
        f(v[n, "full_ms"]), f(v[n, "full_cpu_ms"]), f(v[n, "full_warm_ms"]), up, f(v[n, "upstream_full_cpu_ms"]),
        ratio(v[n, "upstream_full_ms"], v[n, "full_ms"], v[n, "upstream_full_timeout_s"]),
        f2(v[n, "change_ms"]), f2(v[n, "change_max_ms"]), f(v[n, "upstream_change_ms"]),
        ratio(v[n, "upstream_change_ms"], v[n, "change_ms"], ""), f(v[n, "restart_ms"]), f(v[n, "drift_check_ms"])
    }
  }
  function f(x) { return x == "" ? "" : sprintf("%.0f", x) }
  function f2(x) { return x == "" ? "" : sprintf("%.2f", x) }
  function ratio(a, b, t) {
    if (a != "" && b != "" && b > 0) return sprintf("%.1f", a / b)
    if (t != "" && b != "" && b > 0) return sprintf("> %.0f", t * 1000 / b)
    return ""
  }
' "$results"
