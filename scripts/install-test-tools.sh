#!/usr/bin/env bash
# Installs the host tools Pointsman's kernel and end-to-end tests use, from Debian's packages.
# Idempotent: installs only what is missing. Needs root (CI runs as root); without root it says
# what is missing and exits 0, and the kernel tests then skip (outside CI) with that reason.
set -euo pipefail

packages=(iptables ipset conntrack nfacct socat iproute2 nftables prometheus curl procps ipvsadm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-tools: not root; missing packages: ${missing[*]} (kernel tests will skip outside CI)" >&2
  exit 0
fi
echo "install-test-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
