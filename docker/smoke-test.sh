#!/usr/bin/env bash
# Runs a built image the way the DaemonSet does (host network = a fresh network namespace here,
# NET_ADMIN and NET_RAW only) on examples/, writing real rules into that namespace, then checks
# /proxyMode, the KUBE- chains, and that SIGTERM to the JVM (PID 1's process) exits 0 and leaves
# the rules. Needs root and buildah; touches only the namespace it creates. Not run by CI.
# Usage: docker/smoke-test.sh [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-localhost/pointsman:dev}
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
ns=pm-smoke-$$
log=$(mktemp)
ctr=$(buildah from "$image")
cleanup() { ip netns del "$ns" 2>/dev/null || true; buildah rm "$ctr" >/dev/null 2>&1 || true; rm -f "$log"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

ip netns exec "$ns" buildah run --cap-add CAP_NET_ADMIN --cap-add CAP_NET_RAW \
  -v "$PWD/examples:/examples:ro" "$ctr" -- /usr/local/bin/pointsman --from /examples >"$log" 2>&1 &
runner=$!
for _ in $(seq 1 60); do
  grep -q "full sync:" "$log" && break
  sleep 1
done
grep -q "full sync:" "$log" || { cat "$log"; echo "smoke-test: no sync within 60 s" >&2; exit 1; }
mode=$(ip netns exec "$ns" curl -s 127.0.0.1:10249/proxyMode)
chains=$(ip netns exec "$ns" iptables-save -t nat | grep -c '^:KUBE-SVC-' || true)
java=""
for p in $(ip netns pids "$ns"); do
  if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = java ]; then java=$p; fi
done
[ -n "$java" ] || { cat "$log"; echo "smoke-test: no java process in $ns" >&2; exit 1; }
kill -TERM "$java"
rc=0; wait "$runner" || rc=$?
after=$(ip netns exec "$ns" iptables-save -t nat | grep -c '^:KUBE-SVC-' || true)
echo "proxyMode=$mode KUBE-SVC chains=$chains exit=$rc chains after SIGTERM=$after"
head -1 "$log"
grep "stopping" "$log"; tail -3 "$log"
[ "$mode" = iptables ] && [ "$chains" -gt 0 ] && [ "$rc" = 0 ] && [ "$after" = "$chains" ]
