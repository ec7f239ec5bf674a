/**
 * Pointsman's userspace backend ({@code --proxy-mode userspace}): a Netty TCP/UDP relay per
 * service port, reached through iptables portal rules (cluster, external and load-balancer IPs)
 * or bound directly (node ports). {@link io.pointsman.userspace.UserspaceBackend} is the entry;
 * the module's README.md describes the traffic path and the relay's guarantees.
 */
package io.pointsman.userspace;
