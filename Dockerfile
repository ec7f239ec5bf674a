# syntax=docker/dockerfile:1
# Pointsman's image: the daemon jar on a slim Debian with a Java 17 runtime and the netfilter tools.
#
#   docker build -t pointsman:dev .                 # or: buildah bud --layers -t pointsman:dev .
#
# Both base images are build arguments, so an air-gapped or registry-less build can point them at
# local images (docker/README.md shows a build from a debootstrap base with buildah).
ARG BUILD_IMAGE=maven:3-eclipse-temurin-17
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: the shaded daemon jar ------------------------------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY . .
# The Maven repository lives in a cache mount: rebuilds download nothing new.
RUN --mount=type=cache,target=/root/.m2 \
    mvn -B -q -DskipTests -pl proxy-daemon -am package \
 && cp proxy-daemon/target/pointsman.jar /pointsman.jar

# ---- runtime ---------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# iptables carries both backends (iptables-nft, iptables-legacy); the entrypoint picks the one the
# node uses. ipset, conntrack, iproute2 and kmod are used by the modes; nftables (nft) is the
# nftables mode's tool; ipvsadm and curl are for debugging by hand (kubectl exec).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless iptables ipset conntrack nfacct iproute2 ipvsadm nftables kmod curl \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY --from=build /pointsman.jar /opt/pointsman/pointsman.jar
COPY --chmod=0755 docker/pointsman-entrypoint.sh /usr/local/bin/pointsman
COPY --chmod=0755 docker/iptables-mode.sh /usr/local/sbin/pointsman-iptables-mode
# A small heap and a collector for a small, steady daemon; out of memory ends the process so the
# kubelet restarts it instead of leaving it half alive. Override with POINTSMAN_JAVA_OPTS.
ENV POINTSMAN_JAVA_OPTS="-XX:+UseSerialGC -XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"
# The entrypoint chooses iptables-nft or iptables-legacy, then execs java: the JVM is PID 1 and
# gets SIGTERM itself (it stops syncing, leaves the rules in place and exits 0).
ENTRYPOINT ["/usr/local/bin/pointsman"]
CMD ["--help"]
