#!/bin/sh
# The image's entrypoint: make the image's iptables commands use the same backend (nft or
# legacy) as the node, then replace this shell with the JVM, so that the daemon is PID 1 and
# receives SIGTERM directly.
set -eu

# POINTSMAN_IPTABLES_MODE=nft|legacy skips the detection; "auto" (default) detects.
/usr/local/sbin/pointsman-iptables-mode select

# POINTSMAN_JAVA_OPTS is split on spaces on purpose (several JVM options in one variable).
# shellcheck disable=SC2086
exec java ${POINTSMAN_JAVA_OPTS:-} -jar /opt/pointsman/pointsman.jar "$@"
