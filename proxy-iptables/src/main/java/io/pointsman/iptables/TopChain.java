package io.pointsman.iptables;

import java.util.ArrayList;
import java.util.List;

/**
 * The top-level chains this mode owns, in upstream's declaration order per table. Some hold one
 * fragment of rules per service port (the dispatch chains), the others only fixed rules.
 */
enum TopChain {
    FILTER_SERVICES("filter", IptablesRenderer.KUBE_SERVICES, true),
    FILTER_EXTERNAL_SERVICES("filter", IptablesRenderer.KUBE_EXTERNAL_SERVICES, true),
    FILTER_FORWARD("filter", IptablesRenderer.KUBE_FORWARD, false),
    FILTER_NODEPORTS("filter", IptablesRenderer.KUBE_NODEPORTS, true),
    FILTER_PROXY_FIREWALL("filter", IptablesRenderer.KUBE_PROXY_FIREWALL, true),
    /** Shared with kubelet; ours only with localhost NodePorts (IPv4). */
    FILTER_FIREWALL("filter", IptablesRenderer.KUBE_FIREWALL, false),
    NAT_SERVICES("nat", IptablesRenderer.KUBE_SERVICES, true),
    NAT_NODEPORTS("nat", IptablesRenderer.KUBE_NODEPORTS, true),
    NAT_POSTROUTING("nat", IptablesRenderer.KUBE_POSTROUTING, false),
    NAT_MARK_MASQ("nat", IptablesRenderer.KUBE_MARK_MASQ, false);

    static final int COUNT = values().length;
    /** The chains service ports add rules to. */
    static final List<TopChain> DISPATCH = dispatch();

    final String table;
    final String chain;
    final boolean dispatch;

    TopChain(String table, String chain, boolean dispatch) {
        this.table = table;
        this.chain = chain;
        this.dispatch = dispatch;
    }

    boolean nat() {
        return "nat".equals(table);
    }

    @Override
    public String toString() {
        return table + " " + chain;
    }

    private static List<TopChain> dispatch() {
        List<TopChain> out = new ArrayList<>();
        for (TopChain c : values()) {
            if (c.dispatch) {
                out.add(c);
            }
        }
        return List.copyOf(out);
    }
}
