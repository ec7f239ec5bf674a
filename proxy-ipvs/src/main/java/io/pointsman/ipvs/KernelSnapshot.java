package io.pointsman.ipvs;

import io.pointsman.ipvs.kernel.RealServer;
import io.pointsman.ipvs.kernel.ServiceKey;
import io.pointsman.ipvs.kernel.VirtualServer;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the kernel held when a sync began: every virtual service, the destinations of the
 * services that were dumped (all on a full sync), and the addresses on kube-ipvs0.
 *
 * @param destinations destinations by service; a service missing here was not dumped and is left as it is
 */
public record KernelSnapshot(Map<ServiceKey, VirtualServer> services, Map<ServiceKey, List<RealServer>> destinations,
                             Set<String> bound) {
    public KernelSnapshot {
        services = Collections.unmodifiableMap(new TreeMap<>(services));
        destinations = Collections.unmodifiableMap(new TreeMap<>(destinations));
        bound = Collections.unmodifiableSet(new TreeSet<>(bound));
    }

    public static KernelSnapshot empty() {
        return new KernelSnapshot(Map.of(), Map.of(), Set.of());
    }
}
