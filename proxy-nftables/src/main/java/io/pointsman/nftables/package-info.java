/**
 * Pointsman's nftables mode: a map-based ruleset (O(1) dispatch through verdict maps, a few shared
 * load-balancing chains, endpoints in maps) written as element deltas; see README.md of this module.
 */
package io.pointsman.nftables;
