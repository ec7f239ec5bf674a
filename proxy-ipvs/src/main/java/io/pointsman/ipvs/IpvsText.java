package io.pointsman.ipvs;

import io.pointsman.core.model.Protocol;
import io.pointsman.ipvs.kernel.Ipvs;
import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import java.util.Collection;
import java.util.Map;

/** Virtual services in {@code ipvsadm -S -n} (ipvsadm-restore) form, for render output and comparisons. */
public final class IpvsText {
    private IpvsText() {
    }

    public static String render(Map<ServiceKey, VirtualServer> services,
                                Map<ServiceKey, ? extends Collection<RealServer>> destinations) {
        StringBuilder b = new StringBuilder();
        for (VirtualServer vs : services.values()) {
            String svc = protocolFlag(vs.key().protocol()) + " " + hostPort(vs.key());
            b.append("-A ").append(svc).append(" -s ").append(vs.scheduler());
            if (vs.persistent()) {
                b.append(" -p ").append(vs.timeoutSeconds());
            }
            b.append('\n');
            Collection<RealServer> dests = destinations.get(vs.key());
            if (dests != null) {
                for (RealServer rs : dests) {
                    b.append("-a ").append(svc).append(" -r ").append(rs.hostPort())
                            .append(rs.forwardMethod() == Ipvs.CONN_F_MASQ ? " -m" : " -g")
                            .append(" -w ").append(rs.weight()).append('\n');
                }
            }
        }
        return b.toString();
    }

    static String protocolFlag(Protocol p) {
        return switch (p) {
            case TCP -> "-t";
            case UDP -> "-u";
            case SCTP -> "--sctp-service";
        };
    }

    static String hostPort(ServiceKey k) {
        return (k.address().indexOf(':') >= 0 ? "[" + k.address() + "]" : k.address()) + ":" + k.port();
    }
}
