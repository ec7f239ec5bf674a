#!/usr/bin/env bash
# Resource bounds under churn (a benchmark, not a test): the packaged daemon, in iptables mode,
# writing to a throwaway network namespace, reads 10,000 Services and their EndpointSlices from
# manifest files (--from); every few seconds one file is rewritten, changing the endpoints of the
# Services it holds, for DURATION seconds. Heap and RSS of the daemon are printed over time, with
# its sync count and durations, so one can see whether memory stays bounded and what a sync costs.
#
# The JVM gets the production image's options with the DaemonSet's memory limit (512 MiB):
# -XX:+UseSerialGC -Xmx384m (75 %) -XX:+ExitOnOutOfMemoryError.
#
# Usage (root; build first with `mvn -B -q install -DskipTests`):
#   scripts/bench-churn.sh [SERVICES=10000] [DURATION=90] [CHURN_EVERY=3] [SAMPLE_EVERY=10]
# Environment: POINTSMAN_JAR (default proxy-daemon/target/pointsman.jar); BENCH_LOG (default
# /tmp/pointsman-bench-churn.log) receives the daemon's log for a closer look.
# The first full sync writes ~40,000 chains; with the nft flavour of iptables-restore that alone
# can take minutes on a small machine (the tool's own cost), before the churn starts.
# Touches only a network namespace it creates (pm-bench-*) and a temp directory; removes both.
set -euo pipefail

SERVICES=${1:-10000}
DURATION=${2:-90}
CHURN_EVERY=${3:-3}
SAMPLE_EVERY=${4:-10}
FILES=100
ENDPOINTS=3
cd "$(dirname "$0")/.."
JAR=${POINTSMAN_JAR:-$PWD/proxy-daemon/target/pointsman.jar}

[[ $(id -u) == 0 ]] || { echo "bench-churn: needs root (network namespaces, iptables)" >&2; exit 2; }
[[ -f $JAR ]] || { echo "bench-churn: $JAR missing (expected: mvn -B -q install -DskipTests)" >&2; exit 2; }
for tool in ip iptables-restore jstat awk curl; do
  command -v "$tool" >/dev/null || { echo "bench-churn: $tool not found" >&2; exit 2; }
done
(( SERVICES >= FILES && SERVICES % FILES == 0 )) || { echo "bench-churn: SERVICES must be a multiple of $FILES" >&2; exit 2; }

NS=pm-bench-$$
DIR=$(mktemp -d /tmp/pointsman-bench-XXXXXX)
PID=
BENCH_LOG=${BENCH_LOG:-/tmp/pointsman-bench-churn.log}
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  [[ -f $DIR/daemon.log ]] && cp "$DIR/daemon.log" "$BENCH_LOG" || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

# One JSON List per file: Services i..i+per-1 with one EndpointSlice each. $3: generation, shifts
# every endpoint address so the whole file's endpoints change.
per=$((SERVICES / FILES))
write_file() { # file-index generation
  local f=$1 gen=$2
  awk -v f="$f" -v per="$per" -v eps="$ENDPOINTS" -v gen="$gen" 'BEGIN {
    printf "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
    for (k = 0; k < per; k++) {
      i = f * per + k
      ip = sprintf("10.96.%d.%d", int(i / 250), i % 250 + 1)
      if (k > 0) printf ","
      printf "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"bench\",\"name\":\"svc-%d\"},", i
      printf "\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],\"ipFamilies\":[\"IPv4\"],", ip, ip
      printf "\"sessionAffinity\":\"None\",\"internalTrafficPolicy\":\"Cluster\","
      printf "\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}]}},"
      printf "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"namespace\":\"bench\","
      printf "\"name\":\"svc-%d-1\",\"labels\":{\"kubernetes.io/service-name\":\"svc-%d\"}},\"addressType\":\"IPv4\",", i, i
      printf "\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}],\"endpoints\":["
      for (e = 0; e < eps; e++) {
        n = i * eps + e + gen * 7
        if (e > 0) printf ","
        printf "{\"addresses\":[\"10.%d.%d.%d\"],\"conditions\":{\"ready\":true},\"nodeName\":\"node-%d\"}", \
          244, int(n / 250) % 250, n % 250 + 1, e
      }
      printf "]}"
    }
    printf "]}\n"
  }' > "$DIR/.svc-$f.tmp"
  mv "$DIR/.svc-$f.tmp" "$DIR/svc-$f.json"
}

echo "bench-churn: $SERVICES Services x $ENDPOINTS endpoints in $FILES files, churn one file ($per Services) every ${CHURN_EVERY}s for ${DURATION}s"
printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"bench-node","labels":{"kubernetes.io/hostname":"bench-node"}},"status":{"addresses":[{"type":"InternalIP","address":"192.168.99.1"}]}}\n' > "$DIR/node.json"
for ((f = 0; f < FILES; f++)); do write_file "$f" 0; done
echo "bench-churn: manifests $(du -sh "$DIR" | cut -f1) in $DIR"

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" java -XX:+UseSerialGC -Xmx384m -XX:+ExitOnOutOfMemoryError -jar "$JAR" \
  --from "$DIR" --hostname-override bench-node --cluster-cidr 10.244.0.0/16 \
  --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 \
  --iptables-min-sync-period 1s --iptables-sync-period 30s > "$DIR/daemon.log" 2>&1 &
PID=$!

metric() { # name-with-labels regex
  ip netns exec "$NS" curl -s --max-time 5 127.0.0.1:10249/metrics 2>/dev/null | awk -v re="$1" '$0 ~ re && $0 !~ /^#/ {print $2; exit}'
}
sample() { # elapsed
  local rss heap old syncs sum last nat
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$PID/status" 2>/dev/null || echo '?')
  read -r heap old < <(jstat -gc "$PID" 2>/dev/null | awk 'NR==2 {printf "%d %d\n", ($3+$4+$6+$8)/1024, $8/1024}') || true
  syncs=$(metric '^kubeproxy_sync_proxy_rules_duration_seconds_count')
  sum=$(metric '^kubeproxy_sync_proxy_rules_duration_seconds_sum')
  nat=$(metric '^kubeproxy_sync_proxy_rules_iptables_total\{.*table="nat"')
  last=$(grep -E 'Reconciler: (full|partial) sync:' "$DIR/daemon.log" | tail -1 | sed -E 's/.*(full|partial) sync: .* in ([0-9]+) ms/\1 \2 ms/')
  printf '%6ss  rss %5s MiB  heap %4s MiB (old gen %4s MiB)  syncs %5s  sync time total %8s s  nat rules %7s  last sync: %s\n' \
    "$1" "$rss" "${heap:-?}" "${old:-?}" "${syncs:-0}" "${sum:-0}" "${nat:-0}" "${last:-none yet}"
}

start=$(date +%s)
echo "bench-churn: daemon pid $PID; waiting for the first full sync"
until grep -q 'full sync:' "$DIR/daemon.log"; do
  kill -0 "$PID" 2>/dev/null || { echo "bench-churn: daemon exited"; cat "$DIR/daemon.log"; exit 1; }
  (( $(date +%s) - start < 240 )) || { echo "bench-churn: no first sync within 240 s"; tail -20 "$DIR/daemon.log"; exit 1; }
  sleep 1
done
echo "bench-churn: first full sync after $(( $(date +%s) - start )) s: $(grep 'full sync:' "$DIR/daemon.log" | head -1 | sed 's/.*Reconciler: //')"
sample 0

begin=$(date +%s)
gen=1
next_sample=$SAMPLE_EVERY
while (( $(date +%s) - begin < DURATION )); do
  kill -0 "$PID" 2>/dev/null || { echo "bench-churn: daemon exited"; tail -30 "$DIR/daemon.log"; exit 1; }
  write_file $(( gen % FILES )) "$gen"
  gen=$((gen + 1))
  sleep "$CHURN_EVERY"
  elapsed=$(( $(date +%s) - begin ))
  if (( elapsed >= next_sample )); then
    sample "$elapsed"
    next_sample=$(( next_sample + SAMPLE_EVERY ))
  fi
done
sleep 5
sample "$(( $(date +%s) - begin ))"
jcmd "$PID" GC.run >/dev/null 2>&1 || true
echo "bench-churn: heap after a full GC: $(jcmd "$PID" GC.heap_info 2>/dev/null | grep -E 'generation|Metaspace' | sed -E 's/\[0x.*//' | tr -s ' ' | tr '\n' ';')"
echo "bench-churn: rss after a full GC: $(awk '/VmRSS/ {print int($2/1024)}' "/proc/$PID/status") MiB (DaemonSet limit 512 MiB)"
echo "bench-churn: $((gen - 1)) files rewritten ($(( (gen - 1) * per )) Service endpoint changes);" \
  "$(grep -c 'partial sync:' "$DIR/daemon.log") partial and $(grep -c 'full sync:' "$DIR/daemon.log") full syncs;" \
  "errors in the log: $(grep -c -E 'ERROR|OutOfMemory' "$DIR/daemon.log")"
grep -E 'partial sync:' "$DIR/daemon.log" | sed -E 's/.* in ([0-9]+) ms$/\1/' | sort -n | awk '
  { a[NR] = $1; s += $1 } END { if (NR) printf "bench-churn: partial sync ms: median %d, p90 %d, max %d, mean %.0f\n", a[int(NR/2)+1], a[int(NR*0.9)+1], a[NR], s/NR }'
echo "bench-churn: the five slowest partial syncs:"
grep -E 'partial sync:' "$DIR/daemon.log" | sort -t' ' -k1,1 | awk '{ ms = $(NF-1); print ms "\t" $0 }' | sort -rn | head -5 | cut -f2 | sed -E 's/^([^ ]+) .*partial sync: /  \1 /' 
