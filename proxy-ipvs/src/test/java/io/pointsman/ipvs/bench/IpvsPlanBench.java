package io.pointsman.ipvs.bench;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.ipvs.DesiredState;
import io.pointsman.ipvs.IpsetSync;
import io.pointsman.ipvs.IpvsSettings;
import io.pointsman.ipvs.KernelSnapshot;
import io.pointsman.ipvs.Plan;
import io.pointsman.ipvs.Planner;
import io.pointsman.ipvs.kernel.IpvsCodec;
import io.pointsman.ipvs.kernel.Ipvs;
import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.core.model.IpFamily;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Not a test: times the pure parts of an IPVS sync for N services x M endpoints on this host
 * (desired state, the plan from an empty kernel and from a kernel that is already right, the
 * netlink encoding of every create, the ipset script). The kernel round trips are measured in
 * the VM check instead (its "scale:" line). Run with scripts/bench-ipvs.sh [N] [M].
 */
public final class IpvsPlanBench {
    private IpvsPlanBench() {
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int m = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        IpvsSettings settings = new IpvsSettings("rr", List.of(), false, new io.pointsman.ipvs.kernel.IpvsTimeouts(0, 0, 0),
                false, 0x4000, List.of("10.244.0.0/16"), "ClusterCIDR", "", "", List.of(), false,
                Duration.ofMinutes(15), Duration.ofMinutes(1));
        Map<ServicePortName, ServicePort> svcs = new HashMap<>();
        Map<ServicePortName, List<Endpoint>> eps = new HashMap<>();
        for (int i = 0; i < n; i++) {
            ServicePortName sp = new ServicePortName("ns" + (i % 100), "svc" + i, "http", Protocol.TCP);
            svcs.put(sp, ServicePort.clusterIp(sp, "10." + (96 + i / 65536) + "." + (i / 256 % 256) + "." + (i % 256), 80));
            List<Endpoint> l = new ArrayList<>();
            for (int j = 0; j < m; j++) {
                int e = i * m + j;
                l.add(Endpoint.ready("10.244." + (e / 256 % 256) + "." + (e % 256), 8080, "n" + (j % 3)));
            }
            eps.put(sp, l);
        }
        ProxyState state = new ProxyState(new NodeInfo("n0", Map.of(), List.of("192.168.0.2"), List.of()), svcs, eps);
        for (int round = 0; round < 5; round++) {
            long t0 = System.nanoTime();
            DesiredState d = DesiredState.of(state, settings, List.of("192.168.0.2"));
            long t1 = System.nanoTime();
            Plan fromEmpty = Planner.plan(d, KernelSnapshot.empty(), k -> false);
            long t2 = System.nanoTime();
            Map<ServiceKey, List<RealServer>> dests = new HashMap<>();
            d.destinations().forEach((k, v) -> dests.put(k, List.copyOf(v.values())));
            KernelSnapshot same = new KernelSnapshot(d.services(), dests, d.bound());
            long t3 = System.nanoTime();
            Plan none = Planner.plan(d, same, k -> false);
            long t4 = System.nanoTime();
            IpvsCodec codec = new IpvsCodec(0x23);
            long bytes = 0;
            for (Plan.Op op : fromEmpty.ops()) {
                if (op instanceof Plan.CreateService c) {
                    bytes += codec.service(Ipvs.CMD_NEW_SERVICE, c.service()).finish(1, 0).length;
                } else if (op instanceof Plan.CreateDestination c) {
                    bytes += codec.destination(Ipvs.CMD_NEW_DEST, c.service(), c.destination()).finish(1, 0).length;
                }
            }
            long t5 = System.nanoTime();
            String script = IpsetSync.script(Map.of(), d, List.of(IpFamily.IPv4));
            long t6 = System.nanoTime();
            System.out.printf("round %d: %d services x %d endpoints: desired %d ms, plan from empty %d ms (%d ops),"
                            + " plan when right %d ms (%d ops), encode %d ms (%d KiB), ipset script %d ms (%d lines)%n",
                    round, n, m, ms(t1 - t0), ms(t2 - t1), fromEmpty.ops().size(), ms(t4 - t3), none.ops().size(),
                    ms(t5 - t4), bytes / 1024, ms(t6 - t5), script.lines().count());
        }
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }
}
