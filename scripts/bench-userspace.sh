#!/usr/bin/env bash
# Benchmark (not a test) of the userspace mode: in one run, on the same network namespaces, a
# direct connection to the pod, HAProxy (Debian package, mode tcp, roundrobin) and the Pointsman
# relay (--proxy-mode userspace, by node port and by cluster IP through the portal rules), for
#   (a) bulk throughput: iperf3, one stream;
#   (b) short HTTP requests: wrk against nginx in two pod namespaces, with keep-alive and with a
#       new connection per request (Connection: close, the relay's harder case).
# Prints requests/s, p50/p99 latency, throughput, the proxy's CPU (cores busy) and ratios.
#
#   sudo scripts/bench-userspace.sh            # DURATION=5 s per measurement, ROUNDS=3, CONNS=64
#   DURATION=10 ROUNDS=5 CONNS=128 sudo scripts/bench-userspace.sh
#
# Each figure is the median of ROUNDS measurements; the rounds interleave the targets, so a
# burst of other work on the machine lands on all of them rather than on one. About
# ROUNDS x 12 x DURATION seconds plus a minute of set-up and warm-up.
#
# Needs root (namespaces) and installs haproxy, iperf3, wrk and nginx-light with apt-get when
# missing. Touches only the namespaces it creates ("pmb-*"), deletes them on exit, and never
# changes the host's rules, routes or sysctls. Builds proxy-daemon/target/pointsman.jar if absent.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
JAR=${JAR:-proxy-daemon/target/pointsman.jar}

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-userspace: needs root (network namespaces)" >&2
  exit 1
fi

# ---- tools --------------------------------------------------------------------------------------
need=()
for t in haproxy:haproxy iperf3:iperf3 wrk:wrk nginx:nginx-light; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench-userspace: installing ${need[*]}" >&2
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Keep the packages' services from starting on the host: only the namespaced copies run.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
if [ ! -f "$JAR" ]; then
  echo "bench-userspace: building $JAR" >&2
  mvn -B -q install -DskipTests -pl proxy-daemon -am
fi

# ---- namespaces ---------------------------------------------------------------------------------
suffix=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
NS_CLIENT=pmb-client-$suffix
NS_NODE=pmb-node-$suffix
NS_POD1=pmb-pod1-$suffix
NS_POD2=pmb-pod2-$suffix
WORK=$(mktemp -d /tmp/pointsman-bench-XXXXXX)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Give the JVM a moment for its shutdown hooks (e.g. a flight recording asked for in JAVA_OPTS).
  for _ in $(seq 1 50); do
    alive=""
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for ns in $NS_CLIENT $NS_NODE $NS_POD1 $NS_POD2; do
    if ip netns list | grep -qw "$ns"; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

NODE_IP=192.168.88.1
CLIENT_IP=192.168.88.2
GW=10.245.1.1
POD1=10.245.1.2
POD2=10.245.1.3

for ns in $NS_CLIENT $NS_NODE $NS_POD1 $NS_POD2; do
  ip netns add "$ns"
  in_ns "$ns" ip link set lo up
  # Namespaced sysctls: many short connections need ports and TIME_WAIT reuse.
  in_ns "$ns" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
done
in_ns "$NS_NODE" sysctl -q -w net.ipv4.ip_forward=1 net.core.somaxconn=4096
ip link add vclient netns "$NS_NODE" type veth peer name eth0 netns "$NS_CLIENT"
in_ns "$NS_NODE" ip addr add $NODE_IP/24 dev vclient
in_ns "$NS_NODE" ip link set vclient up
in_ns "$NS_CLIENT" ip addr add $CLIENT_IP/24 dev eth0
in_ns "$NS_CLIENT" ip link set eth0 up
in_ns "$NS_CLIENT" ip route add default via $NODE_IP
i=0
for pod in "$NS_POD1:$POD1" "$NS_POD2:$POD2"; do
  ns=${pod%%:*}; ip=${pod#*:}
  ip link add vpod$i netns "$NS_NODE" type veth peer name eth0 netns "$ns"
  in_ns "$NS_NODE" ip addr add $GW/32 dev vpod$i
  in_ns "$NS_NODE" ip link set vpod$i up
  in_ns "$NS_NODE" ip route add $ip/32 dev vpod$i
  in_ns "$ns" ip addr add $ip/32 dev eth0
  in_ns "$ns" ip link set eth0 up
  in_ns "$ns" ip route add $GW/32 dev eth0
  in_ns "$ns" ip route add default via $GW dev eth0
  in_ns "$ns" sysctl -q -w net.core.somaxconn=4096
  i=$((i + 1))
done

# ---- servers in the pods ------------------------------------------------------------------------
for n in 1 2; do
  ns_var=NS_POD$n; ns=${!ns_var}
  mkdir -p "$WORK/nginx$n"
  cat > "$WORK/nginx$n/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx$n/nginx.pid;
error_log $WORK/nginx$n/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx$n;
  proxy_temp_path $WORK/nginx$n;
  fastcgi_temp_path $WORK/nginx$n;
  uwsgi_temp_path $WORK/nginx$n;
  scgi_temp_path $WORK/nginx$n;
  keepalive_requests 1000000;
  server {
    listen 80 backlog=4096;
    location / { return 200 "pod$n\n"; }
  }
}
EOF
  ip netns exec "$ns" nginx -p "$WORK/nginx$n" -c "$WORK/nginx$n/nginx.conf" > "$WORK/nginx$n.out" 2>&1 &
  PIDS+=($!)
done
ip netns exec "$NS_POD1" iperf3 -s -p 5201 > "$WORK/iperf3-server.log" 2>&1 &
PIDS+=($!)

# ---- HAProxy in the node ------------------------------------------------------------------------
cat > "$WORK/haproxy.cfg" <<EOF
global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend http
  bind $NODE_IP:18080
  default_backend pods_http
backend pods_http
  balance roundrobin
  server pod1 $POD1:80
  server pod2 $POD2:80
frontend bulk
  bind $NODE_IP:15201
  default_backend pods_bulk
backend pods_bulk
  balance roundrobin
  server pod1 $POD1:5201
EOF
ip netns exec "$NS_NODE" haproxy -db -f "$WORK/haproxy.cfg" > "$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=($HAPROXY_PID)

# ---- Pointsman (userspace mode) in the node -----------------------------------------------------
mkdir -p "$WORK/cluster"
cat > "$WORK/cluster/objects.yaml" <<EOF
apiVersion: v1
kind: Node
metadata: {name: bench-node}
status:
  addresses: [{type: InternalIP, address: $NODE_IP}]
---
apiVersion: v1
kind: Service
metadata: {namespace: bench, name: http}
spec:
  type: NodePort
  clusterIP: 10.97.0.80
  ports: [{name: http, port: 80, targetPort: 80, nodePort: 30080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: bench, name: http-1, labels: {kubernetes.io/service-name: http}}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints:
- {addresses: [$POD1], nodeName: bench-node, conditions: {ready: true}}
- {addresses: [$POD2], nodeName: bench-node, conditions: {ready: true}}
---
apiVersion: v1
kind: Service
metadata: {namespace: bench, name: bulk}
spec:
  type: NodePort
  clusterIP: 10.97.0.52
  ports: [{name: iperf, port: 5201, targetPort: 5201, nodePort: 30201, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: bench, name: bulk-1, labels: {kubernetes.io/service-name: bulk}}
addressType: IPv4
ports: [{name: iperf, port: 5201, protocol: TCP}]
endpoints:
- {addresses: [$POD1], nodeName: bench-node, conditions: {ready: true}}
EOF
# Started directly (not through a shell function) so $! is the JVM itself.
ip netns exec "$NS_NODE" java ${JAVA_OPTS:-} -jar "$JAR" --proxy-mode userspace --from "$WORK/cluster" \
  --hostname-override bench-node --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 \
  > "$WORK/pointsman.log" 2>&1 &
PM_PID=$!
PIDS+=($PM_PID)

wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "bench-userspace: $what did not come up; logs in $WORK:" >&2
  for f in "$WORK"/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done
  exit 1
}
wait_for "nginx in pod1" in_ns "$NS_CLIENT" curl -sf -m 1 http://$POD1/
wait_for "nginx in pod2" in_ns "$NS_CLIENT" curl -sf -m 1 http://$POD2/
wait_for "haproxy" in_ns "$NS_CLIENT" curl -sf -m 1 http://$NODE_IP:18080/
wait_for "pointsman (node port)" in_ns "$NS_CLIENT" curl -sf -m 1 http://$NODE_IP:30080/
wait_for "pointsman (cluster IP)" in_ns "$NS_CLIENT" curl -sf -m 1 http://10.97.0.80/
# The relay's proc: the java child of `ip netns exec`.
PM_JAVA=$(pgrep -P $PM_PID java || echo $PM_PID)
HA_PROC=$(pgrep -P $HAPROXY_PID haproxy || echo $HAPROXY_PID)

cpu_ticks() { # utime+stime of a process, all threads
  [ -n "${1:-}" ] && [ -r /proc/$1/stat ] || { echo 0; return; }
  awk '{print $14 + $15}' /proc/$1/stat
}
TCK=$(getconf CLK_TCK)

declare -A RESULT

measure_wrk() { # label, url, pid-or-empty, extra wrk args...
  local label=$1 url=$2 pid=$3; shift 3
  local c0 c1 t0 t1 out
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  out=$(in_ns "$NS_CLIENT" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" 2>&1)
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  echo "$out" > "$WORK/wrk-$label-$ROUND.txt"
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec:/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errors=$(echo "$out" | awk '/Socket errors|Non-2xx/ {sub(/^ +/, ""); printf "%s; ", $0}')
  RESULT[$label.rps.$ROUND]=${rps:-0}
  RESULT[$label.p50.$ROUND]=$(to_ms "${p50:-0}")
  RESULT[$label.p99.$ROUND]=$(to_ms "${p99:-0}")
  RESULT[$label.cpu.$ROUND]=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$TCK" -v p="$pid" \
    'BEGIN { if (p == "") print "-"; else printf "%.2f", (b - a) / hz / (t1 - t0) }')
  RESULT[$label.err]="${RESULT[$label.err]:-}${errors}"
}

to_ms() { # wrk's "512.00us" / "2.31ms" / "1.02s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "%.3f", v }'
}

measure_iperf() { # label, host, port, pid-or-empty
  local label=$1 host=$2 port=$3 pid=$4
  local c0 c1 t0 t1 out
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  out=$(in_ns "$NS_CLIENT" iperf3 -c "$host" -p "$port" -t "$DURATION" -f m 2>&1) || true
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  echo "$out" > "$WORK/iperf-$label-$ROUND.txt"
  local mbps
  mbps=$(echo "$out" | awk '/receiver/ {for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i-1)}' | tail -1)
  RESULT[$label.mbps.$ROUND]=${mbps:-0}
  RESULT[$label.cpu.$ROUND]=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$TCK" -v p="$pid" \
    'BEGIN { if (p == "") print "-"; else printf "%.2f", (b - a) / hz / (t1 - t0) }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo "bench-userspace: $(nproc) CPUs, ${DURATION}s per run, wrk -t$WRK_THREADS -c$CONNS; haproxy $(haproxy -v | head -1 | awk '{print $3}'), $(java -version 2>&1 | head -1)"
echo "bench-userspace: load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
echo "bench-userspace: $(grep -m1 -o 'userspace relay: [^,]*' "$WORK/pointsman.log" || echo 'relay transport unknown')"

# Warm-up (JIT for the relay; caches for everyone), not reported.
in_ns "$NS_CLIENT" wrk -t"$WRK_THREADS" -c"$CONNS" -d3s "http://$NODE_IP:30080/" >/dev/null 2>&1 || true
in_ns "$NS_CLIENT" wrk -t"$WRK_THREADS" -c"$CONNS" -d2s -H "Connection: close" "http://$NODE_IP:30080/" >/dev/null 2>&1 || true
in_ns "$NS_CLIENT" wrk -t"$WRK_THREADS" -c"$CONNS" -d2s "http://$NODE_IP:18080/" >/dev/null 2>&1 || true
in_ns "$NS_CLIENT" iperf3 -c $NODE_IP -p 30201 -t 2 >/dev/null 2>&1 || true

TARGETS=(direct haproxy pm-nodeport pm-clusterip)
declare -A HTTP_URL=([direct]=http://$POD1/ [haproxy]=http://$NODE_IP:18080/ [pm-nodeport]=http://$NODE_IP:30080/ [pm-clusterip]=http://10.97.0.80/)
declare -A BULK=([direct]="$POD1 5201" [haproxy]="$NODE_IP 15201" [pm-nodeport]="$NODE_IP 30201" [pm-clusterip]="10.97.0.52 5201")
declare -A PID_OF=([direct]="" [haproxy]=$HA_PROC [pm-nodeport]=$PM_JAVA [pm-clusterip]=$PM_JAVA)

median() { # label.metric -> median over the rounds
  local key=$1 r vals=()
  for r in $(seq 1 "$ROUNDS"); do
    [ "${RESULT[$key.$r]:-}" = "-" ] && { echo "-"; return; }
    vals+=("${RESULT[$key.$r]:-0}")
  done
  printf '%s\n' "${vals[@]}" | sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for ROUND in $(seq 1 "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    echo "bench-userspace: round $ROUND/$ROUNDS: $t" >&2
    measure_iperf "bulk-$t" ${BULK[$t]} "${PID_OF[$t]}"
    measure_wrk "keepalive-$t" "${HTTP_URL[$t]}" "${PID_OF[$t]}"
    measure_wrk "close-$t" "${HTTP_URL[$t]}" "${PID_OF[$t]}" -H "Connection: close"
  done
done
for t in "${TARGETS[@]}"; do
  for m in mbps cpu; do RESULT[bulk-$t.$m]=$(median "bulk-$t.$m"); done
  for mode in keepalive close; do
    for m in rps p50 p99 cpu; do RESULT[$mode-$t.$m]=$(median "$mode-$t.$m"); done
  done
done

echo
echo "medians of $ROUNDS rounds; load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "(a) bulk throughput, iperf3, 1 stream, ${DURATION}s"
printf '%-14s %12s %10s\n' target Mbit/s "proxy CPU"
for t in "${TARGETS[@]}"; do
  printf '%-14s %12s %10s\n' "$t" "${RESULT[bulk-$t.mbps]}" "${RESULT[bulk-$t.cpu]}"
done
for mode in keepalive close; do
  echo
  if [ $mode = keepalive ]; then
    echo "(b1) short HTTP requests, keep-alive connections, wrk -c$CONNS, ${DURATION}s"
  else
    echo "(b2) short HTTP requests, one connection per request (Connection: close), wrk -c$CONNS, ${DURATION}s"
  fi
  printf '%-14s %12s %10s %10s %10s  %s\n' target "requests/s" "p50 ms" "p99 ms" "proxy CPU" "errors"
  for t in "${TARGETS[@]}"; do
    k=$mode-$t
    printf '%-14s %12s %10s %10s %10s  %s\n' "$t" "${RESULT[$k.rps]}" "${RESULT[$k.p50]}" "${RESULT[$k.p99]}" \
      "${RESULT[$k.cpu]}" "${RESULT[$k.err]}"
  done
done

echo
echo "ratios (Pointsman node port; >= 1.0 is better for throughput and requests/s, <= 1.0 for p99)"
printf '%-34s %8s %8s\n' "" "vs HAProxy" "vs direct"
printf '%-34s %8s %8s\n' "bulk throughput" "$(ratio "${RESULT[bulk-pm-nodeport.mbps]}" "${RESULT[bulk-haproxy.mbps]}")" \
  "$(ratio "${RESULT[bulk-pm-nodeport.mbps]}" "${RESULT[bulk-direct.mbps]}")"
for mode in keepalive close; do
  printf '%-34s %8s %8s\n' "requests/s ($mode)" "$(ratio "${RESULT[$mode-pm-nodeport.rps]}" "${RESULT[$mode-haproxy.rps]}")" \
    "$(ratio "${RESULT[$mode-pm-nodeport.rps]}" "${RESULT[$mode-direct.rps]}")"
  printf '%-34s %8s %8s\n' "p99 latency ($mode)" "$(ratio "${RESULT[$mode-pm-nodeport.p99]}" "${RESULT[$mode-haproxy.p99]}")" \
    "$(ratio "${RESULT[$mode-pm-nodeport.p99]}" "${RESULT[$mode-direct.p99]}")"
done
printf '%-34s %8s\n' "HAProxy bulk vs direct" "$(ratio "${RESULT[bulk-haproxy.mbps]}" "${RESULT[bulk-direct.mbps]}")"
