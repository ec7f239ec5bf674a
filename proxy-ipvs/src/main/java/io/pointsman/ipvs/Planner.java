package io.pointsman.ipvs;

import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** Diffs desired against actual kernel state into an ordered {@link Plan}. Pure. */
public final class Planner {
    private Planner() {
    }

    /**
     * @param keep virtual services never to delete although not desired (--ipvs-exclude-cidrs)
     */
    public static Plan plan(DesiredState desired, KernelSnapshot actual, Predicate<ServiceKey> keep) {
        List<Plan.Op> unbind = new ArrayList<>();
        List<Plan.Op> removeDests = new ArrayList<>();
        List<Plan.Op> deleteServices = new ArrayList<>();
        List<Plan.Op> services = new ArrayList<>();
        List<Plan.Op> dests = new ArrayList<>();
        List<Plan.Op> bind = new ArrayList<>();

        for (String ip : actual.bound()) {
            if (!desired.bound().contains(ip)) {
                unbind.add(new Plan.Unbind(ip));
            }
        }
        for (ServiceKey key : actual.services().keySet()) {
            if (!desired.services().containsKey(key) && !keep.test(key)) {
                deleteServices.add(new Plan.DeleteService(key));
            }
        }
        for (Map.Entry<ServiceKey, VirtualServer> e : desired.services().entrySet()) {
            ServiceKey key = e.getKey();
            VirtualServer want = e.getValue();
            VirtualServer have = actual.services().get(key);
            Map<String, RealServer> wantDests = desired.destinations().getOrDefault(key, Map.of());
            if (have == null) {
                services.add(new Plan.CreateService(want));
                for (RealServer rs : wantDests.values()) {
                    dests.add(new Plan.CreateDestination(key, rs));
                }
                continue;
            }
            if (!have.equals(want)) {
                services.add(new Plan.UpdateService(want));
            }
            List<RealServer> haveDests = actual.destinations().get(key);
            if (haveDests == null) {
                continue; // not dumped this sync: left as it is
            }
            Map<String, RealServer> byHostPort = new java.util.HashMap<>();
            for (RealServer rs : haveDests) {
                byHostPort.put(rs.hostPort(), rs);
                if (!wantDests.containsKey(rs.hostPort())) {
                    removeDests.add(new Plan.RemoveDestination(key, rs));
                }
            }
            for (RealServer rs : wantDests.values()) {
                RealServer current = byHostPort.get(rs.hostPort());
                if (current == null) {
                    dests.add(new Plan.CreateDestination(key, rs));
                } else if (!current.sameSettings(rs)) {
                    dests.add(new Plan.UpdateDestination(key, rs));
                }
            }
        }
        for (String ip : desired.bound()) {
            if (!actual.bound().contains(ip)) {
                bind.add(new Plan.Bind(ip));
            }
        }
        List<Plan.Op> ops = new ArrayList<>();
        ops.addAll(unbind);
        ops.addAll(removeDests);
        ops.addAll(deleteServices);
        ops.addAll(services);
        ops.addAll(dests);
        ops.addAll(bind);
        return new Plan(ops);
    }
}
