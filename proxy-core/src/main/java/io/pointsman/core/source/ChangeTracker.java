package io.pointsman.core.source;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.pointsman.core.metrics.ProxyMetrics;
import io.pointsman.core.model.ChangeSet;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Collects Services, EndpointSlices and this node's Node as sources report them, keeps the
 * current model, and hands it to the reconciler together with what changed since the last drain.
 *
 * <p>Threading: any number of source threads call the update methods; one reconciler thread calls
 * {@link #drain()}. All state sits behind one lock; the listener runs outside it.
 *
 * <p>Change tracking follows upstream's trackers: per Service, the view (its ports and their
 * endpoints) as of the last drain is remembered on its first change; when the view returns to
 * that value the pending change is forgotten. A drain therefore costs O(changed Services) plus
 * copying the published maps.
 *
 * <p>Malformed objects: logged once per resourceVersion at WARN and treated as absent, as upstream
 * effectively does (it cannot program them); the previous good version is removed, so what is
 * programmed always matches a version the API holds. Every other object keeps programming.
 */
public final class ChangeTracker {
    private static final Logger log = LoggerFactory.getLogger(ChangeTracker.class);

    /** What the reconciler gets: the full current state and what changed since the previous drain. */
    public record Drained(ProxyState state, ChangeSet changes) {
        public Drained {
            requireNonNull(state, "state");
            requireNonNull(changes, "changes");
        }
    }

    /** One Service's published ports and their (non-empty, merged, sorted) endpoints. */
    private record View(Map<ServicePortName, ServicePort> ports, Map<ServicePortName, List<Endpoint>> endpoints) {
        static final View EMPTY = new View(Map.of(), Map.of());
    }

    /** One accepted EndpointSlice: the Service it belongs to and its per-port endpoints. */
    private record SliceEntry(String serviceKey, Map<ServicePortName, List<Endpoint>> endpoints) {
    }

    private final String nodeName;
    private final ProxyMetrics metrics;
    private volatile String serviceProxyName = "";
    private volatile Runnable listener = () -> { };
    /** This node's last seen Node object, null when none (for health eligibility). */
    private volatile Node nodeObject;

    private final Object lock = new Object();
    // Everything below is guarded by lock.
    private final Map<String, Map<ServicePortName, ServicePort>> servicesByKey = new HashMap<>();
    private final Map<String, SliceEntry> slices = new HashMap<>();
    private final Map<String, Set<String>> slicesByService = new HashMap<>();
    private final Map<String, View> views = new HashMap<>();
    private final Map<ServicePortName, ServicePort> services = new HashMap<>();
    private final Map<ServicePortName, List<Endpoint>> endpoints = new HashMap<>();
    private final Map<String, View> pending = new HashMap<>();
    private final Set<String> pendingServices = new HashSet<>();
    private final Set<String> pendingEndpoints = new HashSet<>();
    private NodeInfo node;
    private NodeInfo drainedNode;
    private boolean servicesSynced;
    private boolean endpointSlicesSynced;
    private boolean nodeSynced;
    private boolean updatesSeen;

    /** Per object ("Service ns/name"): the resourceVersion and problems last logged, to log each once. */
    private final Map<String, String> lastLogged = new ConcurrentHashMap<>();

    public ChangeTracker(String nodeName, ProxyMetrics metrics) {
        this.nodeName = requireNonNull(nodeName, "nodeName");
        if (nodeName.isEmpty()) {
            throw new IllegalArgumentException("node name: \"\" (expected: this node's name)");
        }
        this.metrics = requireNonNull(metrics, "metrics");
        this.node = NodeInfo.named(nodeName);
        this.drainedNode = node;
        metrics.pendingChanges(this::pendingServiceChanges, this::pendingEndpointChanges);
    }

    /** Same, serving only Services labelled service.kubernetes.io/service-proxy-name={@code serviceProxyName}. */
    public ChangeTracker(String nodeName, ProxyMetrics metrics, String serviceProxyName) {
        this(nodeName, metrics);
        setServiceProxyName(serviceProxyName);
    }

    public String nodeName() {
        return nodeName;
    }

    /**
     * Which Services this proxy serves: with "" (the default) those without the
     * service.kubernetes.io/service-proxy-name label, otherwise those whose label equals the name.
     * Must be set before the first update.
     */
    public void setServiceProxyName(String name) {
        requireNonNull(name, "serviceProxyName");
        synchronized (lock) {
            if (updatesSeen) {
                throw new IllegalStateException("service proxy name must be set before the first update");
            }
            serviceProxyName = name;
        }
    }

    public String serviceProxyName() {
        return serviceProxyName;
    }

    /** Called (outside locks, on the updating thread) after each change that may need a sync, and once initialized. */
    public void setListener(Runnable onChange) {
        listener = requireNonNull(onChange, "onChange");
    }

    /** Whether Services, EndpointSlices and the Node have each been listed once. */
    public boolean initialized() {
        synchronized (lock) {
            return servicesSynced && endpointSlicesSynced && nodeSynced;
        }
    }

    public void markServicesSynced() {
        markSynced(() -> servicesSynced = true, "Services");
    }

    public void markEndpointSlicesSynced() {
        markSynced(() -> endpointSlicesSynced = true, "EndpointSlices");
    }

    public void markNodeSynced() {
        markSynced(() -> nodeSynced = true, "Node " + nodeName);
    }

    private void markSynced(Runnable set, String what) {
        boolean nowInitialized;
        synchronized (lock) {
            boolean before = servicesSynced && endpointSlicesSynced && nodeSynced;
            set.run();
            nowInitialized = !before && servicesSynced && endpointSlicesSynced && nodeSynced;
        }
        log.debug("{} listed", what);
        if (nowInitialized) {
            log.info("Services, EndpointSlices and Node {} listed; ready to sync", nodeName);
            notifyListener();
        }
    }

    // ---------------------------------------------------------------------------- updates

    /** A Service was added or changed. */
    public void updateService(Service service) {
        metrics.serviceChange();
        ObjectMeta meta = service.getMetadata();
        if (meta == null || isEmpty(meta.getNamespace()) || isEmpty(meta.getName())) {
            logOnce(new MalformedObjectException("Service", meta == null ? "" : meta.getNamespace(),
                    meta == null ? "" : meta.getName(), "metadata.namespace and metadata.name: missing "
                    + "(expected: both set); ignored"), meta == null ? null : meta.getResourceVersion());
            return;
        }
        String key = meta.getNamespace() + "/" + meta.getName();
        String object = "Service " + key;
        Map<ServicePortName, ServicePort> ports = Map.of();
        if (!served(meta)) {
            log.debug("{} is labelled for another proxy ({}={}); not served", object,
                    ModelConverter.SERVICE_PROXY_NAME_LABEL, labelOf(meta));
            lastLogged.remove(object);
        } else {
            List<String> warnings = new ArrayList<>();
            try {
                Map<ServicePortName, ServicePort> converted = new LinkedHashMap<>();
                for (ServicePort sp : ModelConverter.servicePorts(service, warnings::add)) {
                    converted.put(sp.name(), sp);
                }
                ports = Map.copyOf(converted);
                logWarnings(object, meta.getResourceVersion(), warnings);
            } catch (MalformedObjectException e) {
                logOnce(e, meta.getResourceVersion());
            }
        }
        boolean changed;
        synchronized (lock) {
            updatesSeen = true;
            if (ports.isEmpty()) {
                servicesByKey.remove(key);
            } else {
                servicesByKey.put(key, ports);
            }
            changed = recompute(key);
        }
        if (changed) {
            notifyListener();
        }
    }

    /** A Service was deleted. */
    public void deleteService(String namespace, String name) {
        metrics.serviceChange();
        String key = namespace + "/" + name;
        lastLogged.remove("Service " + key);
        boolean changed;
        synchronized (lock) {
            updatesSeen = true;
            servicesByKey.remove(key);
            changed = recompute(key);
        }
        if (changed) {
            notifyListener();
        }
    }

    /** An EndpointSlice was added or changed. */
    public void updateEndpointSlice(EndpointSlice slice) {
        metrics.endpointChange();
        ObjectMeta meta = slice.getMetadata();
        if (meta == null || isEmpty(meta.getNamespace()) || isEmpty(meta.getName())) {
            logOnce(new MalformedObjectException("EndpointSlice", meta == null ? "" : meta.getNamespace(),
                    meta == null ? "" : meta.getName(), "metadata.namespace and metadata.name: missing "
                    + "(expected: both set); ignored"), meta == null ? null : meta.getResourceVersion());
            return;
        }
        String sliceKey = meta.getNamespace() + "/" + meta.getName();
        SliceEntry entry = null;
        if (ModelConverter.isHeadless(slice)) {
            log.debug("EndpointSlice {} belongs to a headless Service; ignored", sliceKey);
        } else {
            try {
                entry = new SliceEntry(ModelConverter.serviceKeyOf(slice), ModelConverter.endpoints(slice));
                lastLogged.remove("EndpointSlice " + sliceKey);
            } catch (MalformedObjectException e) {
                logOnce(e, meta.getResourceVersion());
            }
        }
        boolean changed;
        synchronized (lock) {
            updatesSeen = true;
            changed = putSlice(sliceKey, entry);
        }
        if (changed) {
            notifyListener();
        }
    }

    /** An EndpointSlice was deleted. */
    public void deleteEndpointSlice(String namespace, String name) {
        metrics.endpointChange();
        String sliceKey = namespace + "/" + name;
        lastLogged.remove("EndpointSlice " + sliceKey);
        boolean changed;
        synchronized (lock) {
            updatesSeen = true;
            changed = putSlice(sliceKey, null);
        }
        if (changed) {
            notifyListener();
        }
    }

    /** This node's Node was added or changed; other nodes are ignored. */
    public void updateNode(Node n) {
        ObjectMeta meta = n.getMetadata();
        if (meta == null || !nodeName.equals(meta.getName())) {
            log.debug("Node {} is not this node ({}); ignored", meta == null ? null : meta.getName(), nodeName);
            return;
        }
        nodeObject = n;
        List<String> warnings = new ArrayList<>();
        NodeInfo info = ModelConverter.nodeInfo(n, warnings::add);
        logWarnings("Node " + nodeName, meta.getResourceVersion(), warnings);
        boolean changed;
        synchronized (lock) {
            changed = !info.equals(node);
            node = info;
        }
        if (changed) {
            log.debug("Node {} changed: labels {}, addresses {}", nodeName, info.labels(), info.addresses());
            notifyListener();
        }
    }

    /**
     * Upstream's node eligibility for {@code /healthz}: this node's Node exists, is not being deleted
     * and is not tainted ToBeDeletedByClusterAutoscaler.
     */
    public boolean nodeEligible() {
        return io.pointsman.core.http.ProxyHealth.nodeEligible(nodeObject);
    }

    /** This node's Node was deleted: only its name is known from now on. */
    public void deleteNode(String name) {
        if (!nodeName.equals(name)) {
            return;
        }
        lastLogged.remove("Node " + nodeName);
        nodeObject = null;
        boolean changed;
        synchronized (lock) {
            NodeInfo bare = NodeInfo.named(nodeName);
            changed = !bare.equals(node);
            node = bare;
        }
        if (changed) {
            log.warn("Node {} was deleted; continuing without its labels and addresses", nodeName);
            notifyListener();
        }
    }

    // ------------------------------------------------------------------------------ drain

    /** The full current state and the service ports changed since the previous drain; clears the pending changes. */
    public Drained drain() {
        synchronized (lock) {
            Set<ServicePortName> changed = new HashSet<>();
            for (Map.Entry<String, View> e : pending.entrySet()) {
                View before = e.getValue();
                View now = views.getOrDefault(e.getKey(), View.EMPTY);
                collectChangedPorts(before, now, changed);
            }
            pending.clear();
            pendingServices.clear();
            pendingEndpoints.clear();
            boolean nodeChanged = !node.equals(drainedNode);
            drainedNode = node;
            ProxyState state = new ProxyState(node, services, endpoints);
            return new Drained(state, new ChangeSet(changed, nodeChanged));
        }
    }

    /** Services whose ports changed since the last drain. */
    public int pendingServiceChanges() {
        synchronized (lock) {
            return pendingServices.size();
        }
    }

    /** Services whose endpoints changed since the last drain. */
    public int pendingEndpointChanges() {
        synchronized (lock) {
            return pendingEndpoints.size();
        }
    }

    // --------------------------------------------------------------------------- internals

    private boolean served(ObjectMeta meta) {
        String label = labelOf(meta);
        String wanted = serviceProxyName;
        return wanted.isEmpty() ? label == null : wanted.equals(label);
    }

    private static String labelOf(ObjectMeta meta) {
        return meta.getLabels() == null ? null : meta.getLabels().get(ModelConverter.SERVICE_PROXY_NAME_LABEL);
    }

    /** Stores or removes a slice and recomputes the Services it belonged to and belongs to. Holds lock. */
    private boolean putSlice(String sliceKey, SliceEntry entry) {
        SliceEntry old = entry == null ? slices.remove(sliceKey) : slices.put(sliceKey, entry);
        boolean changed = false;
        if (old != null && (entry == null || !old.serviceKey().equals(entry.serviceKey()))) {
            Set<String> keys = slicesByService.get(old.serviceKey());
            if (keys != null) {
                keys.remove(sliceKey);
                if (keys.isEmpty()) {
                    slicesByService.remove(old.serviceKey());
                }
            }
            changed = recompute(old.serviceKey());
        }
        if (entry != null) {
            slicesByService.computeIfAbsent(entry.serviceKey(), k -> new TreeSet<>()).add(sliceKey);
            changed |= recompute(entry.serviceKey());
        }
        return changed;
    }

    /**
     * Rebuilds one Service's view from its accepted ports and slices, publishes it and updates the
     * pending changes. Holds lock. Answers whether the view changed.
     */
    private boolean recompute(String serviceKey) {
        View before = views.getOrDefault(serviceKey, View.EMPTY);
        Map<ServicePortName, ServicePort> ports = servicesByKey.getOrDefault(serviceKey, Map.of());
        Map<ServicePortName, List<Endpoint>> merged = Map.of();
        Set<String> sliceKeys = slicesByService.get(serviceKey);
        if (!ports.isEmpty() && sliceKeys != null) {
            // Slices in name order, so which duplicate wins does not depend on arrival order.
            Map<ServicePortName, Map<String, Endpoint>> acc = new HashMap<>();
            for (String sk : sliceKeys) {
                for (Map.Entry<ServicePortName, List<Endpoint>> e : slices.get(sk).endpoints().entrySet()) {
                    if (!ports.containsKey(e.getKey())) {
                        continue; // a port the Service does not (yet) have
                    }
                    Map<String, Endpoint> byHostPort = acc.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<>());
                    for (Endpoint ep : e.getValue()) {
                        ModelConverter.mergePreferReady(byHostPort, ep);
                    }
                }
            }
            Map<ServicePortName, List<Endpoint>> out = new HashMap<>();
            acc.forEach((spn, eps) -> {
                if (!eps.isEmpty()) {
                    out.put(spn, ModelConverter.sorted(eps.values()));
                }
            });
            merged = Map.copyOf(out);
        }
        View after = new View(ports, merged);
        if (after.equals(before)) {
            return false;
        }
        for (ServicePortName spn : before.ports().keySet()) {
            services.remove(spn);
            endpoints.remove(spn);
        }
        services.putAll(ports);
        endpoints.putAll(merged);
        if (ports.isEmpty()) {
            views.remove(serviceKey);
        } else {
            views.put(serviceKey, after);
        }
        trackPending(serviceKey, before, after);
        return true;
    }

    /** Remembers the view as of the last drain on first change; forgets the change when it is undone. Holds lock. */
    private void trackPending(String serviceKey, View before, View after) {
        View base = pending.putIfAbsent(serviceKey, before);
        if (base == null) {
            base = before;
        }
        if (base.equals(after)) {
            pending.remove(serviceKey);
            pendingServices.remove(serviceKey);
            pendingEndpoints.remove(serviceKey);
            return;
        }
        if (base.ports().equals(after.ports())) {
            pendingServices.remove(serviceKey);
        } else {
            pendingServices.add(serviceKey);
        }
        if (base.endpoints().equals(after.endpoints())) {
            pendingEndpoints.remove(serviceKey);
        } else {
            pendingEndpoints.add(serviceKey);
        }
    }

    private static void collectChangedPorts(View before, View now, Set<ServicePortName> out) {
        Set<ServicePortName> names = new HashSet<>(before.ports().keySet());
        names.addAll(now.ports().keySet());
        for (ServicePortName spn : names) {
            if (!Objects.equals(before.ports().get(spn), now.ports().get(spn))
                    || !Objects.equals(before.endpoints().get(spn), now.endpoints().get(spn))) {
                out.add(spn);
            }
        }
    }

    private void notifyListener() {
        try {
            listener.run();
        } catch (RuntimeException e) {
            log.error("Change listener failed; the change is kept and will be synced later", e);
        }
    }

    private void logOnce(MalformedObjectException e, String resourceVersion) {
        String object = MalformedObjectException.describe(e.kind(), e.namespace(), e.name());
        String signature = resourceVersion + "\n" + e.problem();
        if (!signature.equals(lastLogged.put(object, signature))) {
            log.warn("{} (resourceVersion {}); not programmed, other objects are unaffected", e.getMessage(),
                    resourceVersion == null ? "unknown" : resourceVersion);
        }
    }

    private void logWarnings(String object, String resourceVersion, List<String> warnings) {
        if (warnings.isEmpty()) {
            lastLogged.remove(object);
            return;
        }
        String signature = resourceVersion + "\n" + String.join("\n", warnings);
        if (!signature.equals(lastLogged.put(object, signature))) {
            for (String w : warnings) {
                log.warn("{}: {}", object, MalformedObjectException.printable(w));
            }
        }
    }

    private static boolean isEmpty(String s) {
        return s == null || s.isEmpty();
    }

    /** For logs and tests: "Service ns/name" style description of an object. */
    static String describe(HasMetadata o) {
        ObjectMeta m = o.getMetadata();
        return MalformedObjectException.describe(o.getKind() == null ? o.getClass().getSimpleName() : o.getKind(),
                m == null ? "" : m.getNamespace(), m == null ? "" : m.getName());
    }
}
