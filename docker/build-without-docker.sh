#!/usr/bin/env bash
# Builds the image with buildah (chroot isolation, vfs storage: no daemon, no registry) from base
# images made here with debootstrap from Debian's packages, instead of pulling
# maven:3-eclipse-temurin-17 and debian:bookworm-slim. Needs root, buildah and debootstrap
# (apt-get install buildah debootstrap). Not run by CI. Usage: docker/build-without-docker.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/pointsman:dev}
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${POINTSMAN_IMAGE_WORK:-/tmp/pointsman-image}
mkdir -p "$work"

if ! buildah inspect --type image localhost/debian:bookworm-slim >/dev/null 2>&1; then
  echo "build-without-docker: debootstrap bookworm into $work/rootfs" >&2
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log"
  rm -f "$work"/rootfs/var/cache/apt/archives/*.deb
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  cp -a "$work/rootfs/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  buildah commit -q "$ctr" localhost/debian:bookworm-slim >/dev/null
  buildah rm "$ctr" >/dev/null
fi

if ! buildah inspect --type image localhost/pointsman-build:jdk17 >/dev/null 2>&1; then
  echo "build-without-docker: build stage base (JDK 17 and Maven from Debian)" >&2
  ctx="$work/build-base"
  rm -rf "$ctx" && mkdir -p "$ctx/certs"
  # A machine behind a TLS-intercepting proxy trusts extra CAs; Maven in the build needs them too.
  cp /usr/local/share/ca-certificates/*.crt "$ctx/certs/" 2>/dev/null || true
  cat >"$ctx/Containerfile" <<'INNER'
FROM localhost/debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven \
 && rm -rf /var/lib/apt/lists/*
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null 2>&1
INNER
  buildah bud -q -t localhost/pointsman-build:jdk17 "$ctx" >/dev/null
fi

buildah bud --layers \
  --build-arg BUILD_IMAGE=localhost/pointsman-build:jdk17 \
  --build-arg RUNTIME_IMAGE=localhost/debian:bookworm-slim \
  -t "$tag" .
echo "build-without-docker: built $tag" >&2
