package io.pointsman.core.config;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code nodePortAddresses} for one IP family, as the rule-writing backends read it: the CIDRs of
 * that family and whether the keyword {@code primary} was given. A zero-length prefix matches every
 * address, so it means no restriction at all, as upstream treats it.
 *
 * @param cidrs canonical CIDRs of the family; empty with {@code primary} false means every address
 */
public record NodePortSelection(List<String> cidrs, boolean primary) {
    public NodePortSelection {
        cidrs = List.copyOf(cidrs);
    }

    public static NodePortSelection of(ProxyConfig config, IpFamily family) {
        List<String> cidrs = new ArrayList<>();
        boolean primary = false;
        for (String a : config.nodePortAddresses()) {
            if ("primary".equals(a)) {
                primary = true;
            } else if (IpAddresses.familyOf(a) == family) {
                if (a.endsWith("/0")) {
                    return new NodePortSelection(List.of(), false);
                }
                cidrs.add(IpAddresses.canonicalCidr(a));
            }
        }
        return new NodePortSelection(cidrs, primary);
    }

    /** No restriction: every local address accepts node ports. */
    public boolean matchAll() {
        return cidrs.isEmpty() && !primary;
    }

    /**
     * Whether node ports answer on 127.0.0.1 for this family: IPv4 only, localhostNodePorts on, and
     * the selection able to match loopback (upstream turns them off otherwise).
     */
    public boolean localhostNodePorts(ProxyConfig config, IpFamily family) {
        boolean loopbackAllowed = matchAll() || cidrs.stream().anyMatch(c -> IpAddresses.cidrContains(c, "127.0.0.1"));
        return family == IpFamily.IPv4 && config.localhostNodePorts() && loopbackAllowed;
    }
}
