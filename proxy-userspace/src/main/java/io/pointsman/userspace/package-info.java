/** Pointsman userspace backend: a Netty TCP/UDP relay. */
package io.pointsman.userspace;
