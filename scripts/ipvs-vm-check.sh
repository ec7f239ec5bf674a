#!/usr/bin/env bash
# Runs the IPVS backend's kernel checks (io.pointsman.ipvs.vm.IpvsVmCheck) in a throwaway VM that
# boots Debian's kernel, which has IPVS (this host's kernel may not). The same program the JUnit
# test IpvsVmTest runs in CI; this is the by-hand way, printing the guest's output as it comes.
# Needs root (first use installs qemu via ../shared/vm/run-in-vm.sh) and ipvsadm, ipset, socat.
# Usage: scripts/ipvs-vm-check.sh   (exit status 0 when every check passed)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vm="$here/../shared/vm/run-in-vm.sh"
[ -x "$vm" ] || { echo "ipvs-vm-check: $vm not found (expected shared/ beside the repository)" >&2; exit 2; }
bash "$here/scripts/install-test-tools.sh"
cd "$here"
mvn -B -q install -DskipTests -pl proxy-core >&2
mvn -B -q test-compile -pl proxy-ipvs >&2
cpfile=$(mktemp); trap 'rm -f "$cpfile"' EXIT
mvn -B -q dependency:build-classpath -pl proxy-ipvs -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile" >&2
cp="$here/proxy-ipvs/target/test-classes:$here/proxy-ipvs/target/classes:$(cat "$cpfile")"
exec "$vm" -m 1536 -- java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
  -Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener \
  -cp "$cp" io.pointsman.ipvs.vm.IpvsVmCheck
