#!/usr/bin/env bash
# Benchmark (not a test) of the IPVS mode's pure sync work on this host: desired state, plans,
# netlink encoding and the ipset script for N services x M endpoints (default 10000 x 5).
# Kernel round trips are measured by scripts/ipvs-vm-check.sh (its "scale:" line, emulated CPU).
# Usage: scripts/bench-ipvs.sh [N] [M]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
mvn -B -q install -DskipTests -pl proxy-core >&2
mvn -B -q test-compile -pl proxy-ipvs >&2
cpfile=$(mktemp); trap 'rm -f "$cpfile"' EXIT
mvn -B -q dependency:build-classpath -pl proxy-ipvs -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile" >&2
exec java -Xmx1g -cp "$here/proxy-ipvs/target/test-classes:$here/proxy-ipvs/target/classes:$(cat "$cpfile")" \
  io.pointsman.ipvs.bench.IpvsPlanBench "${1:-10000}" "${2:-5}"
