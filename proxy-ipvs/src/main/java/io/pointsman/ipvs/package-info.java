/** Pointsman IPVS backend: generic netlink through jnr-ffi. */
package io.pointsman.ipvs;
