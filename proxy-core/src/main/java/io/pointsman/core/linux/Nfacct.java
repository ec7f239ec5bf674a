package io.pointsman.core.linux;

/**
 * Named netfilter accounting counters (nfnetlink_acct), as upstream's iptables mode uses for
 * {@code ct_state_invalid_dropped_pkts} and {@code localhost_nps_accepted_pkts}. Rules match
 * them with {@code -m nfacct --nfacct-name NAME}; a rule naming a missing counter is refused.
 */
public interface Nfacct {
    String INVALID_DROPPED = "ct_state_invalid_dropped_pkts";
    String LOCALHOST_NODEPORTS_ACCEPTED = "localhost_nps_accepted_pkts";

    /** Creates the counter when it does not exist; answers whether it exists afterwards. */
    boolean ensure(String name);

    /** Packets the counter has seen, or -1 when it cannot be read. */
    long packets(String name);
}
