package io.pointsman.nftables;

import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.topology.EndpointSelector;
import java.util.*;

final class BuildScratch {
    public static void main(String[] a) throws Exception {
        var bench = Class.forName("io.pointsman.nftables.bench.NftablesBench");
        var m = bench.getDeclaredMethod("state", int.class, int.class); m.setAccessible(true);
        ProxyState state = (ProxyState) m.invoke(null, 10000, 10);
        var cm = bench.getDeclaredMethod("config"); cm.setAccessible(true);
        var config = (io.pointsman.core.config.ProxyConfig) cm.invoke(null);
        for (int round = 0; round < 4; round++) {
            Ruleset r = new Ruleset(NftOptions.from(config, IpFamily.IPv4));
            long sel = 0, sp = 0, put = 0;
            List<Contribution> cs = new ArrayList<>();
            long t0 = System.nanoTime();
            for (var e : state.services().entrySet()) {
                EndpointSelector.select(state.endpointsOf(e.getKey()), e.getValue(), state.node(), true);
            }
            long t1 = System.nanoTime();
            for (var e : state.services().entrySet()) {
                cs.add(r.servicePort(e.getValue(), state.endpointsOf(e.getKey()), state.node()));
            }
            long t2 = System.nanoTime();
            DesiredTable d = new DesiredTable(r);
            d.tracking(false);
            d.putStatic(r.staticPart(state.node()));
            int i = 0;
            for (var e : state.services().entrySet()) {
                d.putService(e.getKey(), cs.get(i++));
            }
            long t3 = System.nanoTime();
            System.out.printf("select %d ms, servicePort (incl select) %d ms, putService %d ms%n", (t1-t0)/1000000, (t2-t1)/1000000, (t3-t2)/1000000);
        }
    }
}
