/** Pointsman nftables backend: map-based ruleset with delta transactions. */
package io.pointsman.nftables;
