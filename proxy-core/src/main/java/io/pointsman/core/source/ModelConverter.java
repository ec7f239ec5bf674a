package io.pointsman.core.source;

import io.fabric8.kubernetes.api.model.ClientIPConfig;
import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.LoadBalancerStatus;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.ServiceStatus;
import io.fabric8.kubernetes.api.model.SessionAffinityConfig;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointHints;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.ForNode;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZone;
import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.Protocol;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Turns fabric8 API objects into Pointsman's model, with upstream kube-proxy's semantics. Pure:
 * no state, no logging; problems that make an object unusable throw {@link MalformedObjectException},
 * problems upstream tolerates (an invalid external IP, load-balancer IP or source range) are
 * dropped and reported to the {@code warnings} consumer.
 */
public final class ModelConverter {
    /** Label on an EndpointSlice naming the Service it belongs to. */
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
    /** Label the EndpointSlice controller puts on slices of headless Services. */
    public static final String HEADLESS_LABEL = "service.kubernetes.io/headless";
    /** Label handing a Service to an alternative proxy. */
    public static final String SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
    /** The API's default ClientIP affinity timeout (3 hours). */
    public static final int DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
    /** The API's maximum ClientIP affinity timeout (1 day). */
    public static final int MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

    private static final Consumer<String> IGNORE = w -> { };

    /*
     * Names end up in rule comments and chain-name hashes. The API server validates them, but
     * manifest files and other sources do not: a quote, blank or newline in a name would break the
     * restore payload or add rules to it. So names are held to the API's own rules here.
     */
    /** Namespaces, Service and EndpointSlice port names: at most 63 of a-z, 0-9 and '-', alphanumeric at both ends. */
    static final java.util.regex.Pattern DNS1123_LABEL = java.util.regex.Pattern.compile(
            "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    /** Service names: a DNS-1123 label that starts with a letter. */
    static final java.util.regex.Pattern DNS1035_LABEL = java.util.regex.Pattern.compile(
            "[a-z]([-a-z0-9]{0,61}[a-z0-9])?");
    /** EndpointSlice names: dot-separated DNS-1123 labels, at most 253 characters. */
    static final java.util.regex.Pattern DNS1123_SUBDOMAIN = java.util.regex.Pattern.compile(
            "(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    /** Label values: at most 63 of A-Z, a-z, 0-9, '-', '_' and '.', alphanumeric at both ends. */
    static final java.util.regex.Pattern LABEL_VALUE = java.util.regex.Pattern.compile(
            "([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");

    private ModelConverter() {
    }

    // ---------------------------------------------------------------------------------- Service

    /** {@link #servicePorts(Service, Consumer)} without warnings. */
    public static List<ServicePort> servicePorts(Service service) {
        return servicePorts(service, IGNORE);
    }

    /**
     * One {@link ServicePort} per spec port, in spec order. ExternalName and headless Services
     * (clusterIP None or empty) are not proxied and answer an empty list.
     *
     * @param warnings receives one line per dropped value (without the object's name)
     * @throws MalformedObjectException when a required field is missing or a cluster IP or port is invalid
     */
    public static List<ServicePort> servicePorts(Service service, Consumer<String> warnings) {
        ObjectMeta meta = service.getMetadata();
        String namespace = meta == null ? null : meta.getNamespace();
        String name = meta == null ? null : meta.getName();
        Problems p = new Problems("Service", namespace, name);
        p.require(meta != null, "metadata: missing (expected: an object with metadata.namespace and metadata.name)");
        p.require(notEmpty(name), "metadata.name: missing (expected: the Service's name)");
        p.require(notEmpty(namespace), "metadata.namespace: missing (expected: the Service's namespace)");
        requireName(namespace, DNS1123_LABEL, "metadata.namespace", "a DNS-1123 label", p);
        requireName(name, DNS1035_LABEL, "metadata.name", "a DNS-1035 label", p);
        ServiceSpec spec = service.getSpec();
        p.require(spec != null, "spec: missing (expected: a ServiceSpec)");

        if ("ExternalName".equals(spec.getType())) {
            return List.of();
        }
        ServiceType type;
        try {
            type = ServiceType.parse(spec.getType());
        } catch (IllegalArgumentException e) {
            throw p.fail("spec.type: " + spec.getType() + " (expected: ClusterIP, NodePort, LoadBalancer or ExternalName)");
        }
        if (isHeadless(spec)) {
            return List.of();
        }
        List<String> clusterIPs = clusterIPs(spec, p);

        List<io.fabric8.kubernetes.api.model.ServicePort> specPorts = orEmpty(spec.getPorts());
        if (specPorts.isEmpty()) {
            return List.of();
        }
        List<String> externalIPs = canonicalIps(orEmpty(spec.getExternalIPs()), "spec.externalIPs", warnings);
        List<String> lbIPs = type == ServiceType.LOAD_BALANCER ? loadBalancerIps(service.getStatus(), warnings) : List.of();
        List<String> sourceRanges = type == ServiceType.LOAD_BALANCER
                ? sourceRanges(orEmpty(spec.getLoadBalancerSourceRanges()), warnings) : List.of();
        int affinity = affinityTimeout(spec, p);
        TrafficPolicy external = policy(spec.getExternalTrafficPolicy(), "spec.externalTrafficPolicy", p);
        TrafficPolicy internal = policy(spec.getInternalTrafficPolicy(), "spec.internalTrafficPolicy", p);
        int healthCheckNodePort = 0;
        // Upstream's NeedsHealthCheck: only LoadBalancer Services with externalTrafficPolicy Local.
        if (type == ServiceType.LOAD_BALANCER && external == TrafficPolicy.LOCAL) {
            healthCheckNodePort = portValue(spec.getHealthCheckNodePort(), "spec.healthCheckNodePort", true, p);
            if (healthCheckNodePort == 0) {
                warnings.accept("spec.healthCheckNodePort: missing for a LoadBalancer Service with "
                        + "externalTrafficPolicy Local (expected: a port); no health check will be served");
            }
        }
        String trafficDistribution = spec.getTrafficDistribution() == null ? "" : spec.getTrafficDistribution();

        List<ServicePort> out = new ArrayList<>(specPorts.size());
        Set<ServicePortName> seen = new HashSet<>();
        for (int i = 0; i < specPorts.size(); i++) {
            io.fabric8.kubernetes.api.model.ServicePort sp = specPorts.get(i);
            String at = "spec.ports[" + i + "]";
            if (notEmpty(sp.getName())) {
                requireName(sp.getName(), DNS1123_LABEL, at + ".name", "a DNS-1123 label", p);
            }
            int port = portValue(sp.getPort(), at + ".port", false, p);
            Protocol protocol = protocol(sp.getProtocol(), at + ".protocol", p);
            int nodePort = type == ServiceType.CLUSTER_IP ? 0 : portValue(sp.getNodePort(), at + ".nodePort", true, p);
            ServicePortName spn = new ServicePortName(namespace, name, sp.getName() == null ? "" : sp.getName(), protocol);
            if (!seen.add(spn)) {
                throw p.fail(at + ": duplicate port name \"" + spn.port() + "\" with protocol " + protocol
                        + " (expected: unique port names)");
            }
            try {
                out.add(new ServicePort(spn, type, clusterIPs, port, nodePort, externalIPs, lbIPs, sourceRanges,
                        affinity, external, internal, healthCheckNodePort, trafficDistribution));
            } catch (IllegalArgumentException e) {
                throw p.fail(at + ": " + e.getMessage()); // the model's own checks, should the ones above miss one
            }
        }
        return List.copyOf(out);
    }

    /** Upstream's ShouldSkipService for headless Services: no cluster IP, or "None". */
    static boolean isHeadless(ServiceSpec spec) {
        String primary = spec.getClusterIP();
        if (!notEmpty(primary) && spec.getClusterIPs() != null && !spec.getClusterIPs().isEmpty()) {
            primary = spec.getClusterIPs().get(0);
        }
        return !notEmpty(primary) || "None".equals(primary);
    }

    /** Cluster IPs from spec.clusterIPs (or spec.clusterIP), primary first, at most one per family. */
    private static List<String> clusterIPs(ServiceSpec spec, Problems p) {
        List<String> raw = orEmpty(spec.getClusterIPs());
        String field = "spec.clusterIPs";
        if (raw.isEmpty()) {
            raw = List.of(spec.getClusterIP());
            field = "spec.clusterIP";
        }
        List<String> ips = new ArrayList<>(raw.size());
        for (int i = 0; i < raw.size(); i++) {
            String at = raw.size() == 1 && field.equals("spec.clusterIP") ? field : field + "[" + i + "]";
            ips.add(canonicalIp(raw.get(i), at, p));
        }
        if (notEmpty(spec.getClusterIP()) && field.equals("spec.clusterIPs")) {
            String primary = canonicalIp(spec.getClusterIP(), "spec.clusterIP", p);
            if (!primary.equals(ips.get(0))) {
                throw p.fail("spec.clusterIP: \"" + spec.getClusterIP() + "\" differs from spec.clusterIPs[0] \""
                        + raw.get(0) + "\" (expected: the same primary IP)");
            }
        }
        if (ips.size() > 2 || (ips.size() == 2 && IpFamily.of(ips.get(0)) == IpFamily.of(ips.get(1)))) {
            throw p.fail(field + ": " + raw + " (expected: at most one IPv4 and one IPv6 address)");
        }
        return ips;
    }

    private static List<String> canonicalIps(List<String> raw, String field, Consumer<String> warnings) {
        Set<String> out = new LinkedHashSet<>();
        for (int i = 0; i < raw.size(); i++) {
            String ip = raw.get(i);
            try {
                out.add(IpAddresses.canonical(ip));
            } catch (IllegalArgumentException e) {
                warnings.accept(field + "[" + i + "]: \"" + ip + "\" (expected: an IPv4 or IPv6 literal); ignored");
            }
        }
        return List.copyOf(out);
    }

    /**
     * status.loadBalancer.ingress[].ip of a LoadBalancer Service. Entries with ipMode Proxy are
     * skipped, as upstream does: such load balancers deliver to the node, not to the VIP.
     */
    private static List<String> loadBalancerIps(ServiceStatus status, Consumer<String> warnings) {
        LoadBalancerStatus lb = status == null ? null : status.getLoadBalancer();
        List<LoadBalancerIngress> ingress = lb == null ? List.of() : orEmpty(lb.getIngress());
        Set<String> out = new LinkedHashSet<>();
        for (int i = 0; i < ingress.size(); i++) {
            LoadBalancerIngress ing = ingress.get(i);
            if (ing == null || !notEmpty(ing.getIp()) || "Proxy".equals(ing.getIpMode())) {
                continue;
            }
            try {
                out.add(IpAddresses.canonical(ing.getIp()));
            } catch (IllegalArgumentException e) {
                warnings.accept("status.loadBalancer.ingress[" + i + "].ip: \"" + ing.getIp()
                        + "\" (expected: an IPv4 or IPv6 literal); ignored");
            }
        }
        return List.copyOf(out);
    }

    private static List<String> sourceRanges(List<String> raw, Consumer<String> warnings) {
        Set<String> out = new LinkedHashSet<>();
        for (int i = 0; i < raw.size(); i++) {
            String cidr = raw.get(i);
            try {
                out.add(IpAddresses.canonicalCidr(cidr));
            } catch (IllegalArgumentException e) {
                warnings.accept("spec.loadBalancerSourceRanges[" + i + "]: \"" + cidr
                        + "\" (expected: a CIDR such as 203.0.113.0/24); ignored");
            }
        }
        return List.copyOf(out);
    }

    private static int affinityTimeout(ServiceSpec spec, Problems p) {
        String affinity = spec.getSessionAffinity();
        if (affinity == null || affinity.isEmpty() || "None".equals(affinity)) {
            return 0;
        }
        if (!"ClientIP".equals(affinity)) {
            throw p.fail("spec.sessionAffinity: " + affinity + " (expected: None or ClientIP)");
        }
        SessionAffinityConfig config = spec.getSessionAffinityConfig();
        ClientIPConfig clientIP = config == null ? null : config.getClientIP();
        Integer timeout = clientIP == null ? null : clientIP.getTimeoutSeconds();
        if (timeout == null) {
            return DEFAULT_AFFINITY_TIMEOUT_SECONDS;
        }
        if (timeout < 1 || timeout > MAX_AFFINITY_TIMEOUT_SECONDS) {
            throw p.fail("spec.sessionAffinityConfig.clientIP.timeoutSeconds: " + timeout
                    + " (expected: 1-" + MAX_AFFINITY_TIMEOUT_SECONDS + ")");
        }
        return timeout;
    }

    private static TrafficPolicy policy(String value, String field, Problems p) {
        try {
            return TrafficPolicy.parse(value);
        } catch (IllegalArgumentException e) {
            throw p.fail(field + ": " + value + " (expected: Cluster or Local)");
        }
    }

    // ---------------------------------------------------------------------------- EndpointSlice

    /**
     * The Service (namespace/name) an EndpointSlice belongs to, from its kubernetes.io/service-name label.
     *
     * @throws MalformedObjectException when the slice has no name, namespace or service-name label
     */
    public static String serviceKeyOf(EndpointSlice slice) {
        ObjectMeta meta = slice.getMetadata();
        String namespace = meta == null ? null : meta.getNamespace();
        String name = meta == null ? null : meta.getName();
        Problems p = new Problems("EndpointSlice", namespace, name);
        p.require(meta != null, "metadata: missing (expected: an object with metadata.namespace and metadata.name)");
        p.require(notEmpty(name), "metadata.name: missing (expected: the EndpointSlice's name)");
        p.require(notEmpty(namespace), "metadata.namespace: missing (expected: the EndpointSlice's namespace)");
        String service = meta.getLabels() == null ? null : meta.getLabels().get(SERVICE_NAME_LABEL);
        p.require(notEmpty(service), "metadata.labels[" + SERVICE_NAME_LABEL
                + "]: missing (expected: the name of the Service the slice belongs to)");
        requireName(namespace, DNS1123_LABEL, "metadata.namespace", "a DNS-1123 label", p);
        requireName(name, DNS1123_SUBDOMAIN, "metadata.name", "a DNS-1123 subdomain", p);
        requireName(service, LABEL_VALUE, "metadata.labels[" + SERVICE_NAME_LABEL + "]", "a label value", p);
        return namespace + "/" + service;
    }

    /** Whether the slice belongs to a headless Service (labelled so by the EndpointSlice controller). */
    public static boolean isHeadless(EndpointSlice slice) {
        ObjectMeta meta = slice.getMetadata();
        return meta != null && meta.getLabels() != null && meta.getLabels().containsKey(HEADLESS_LABEL);
    }

    /**
     * The slice's contribution to its Service's endpoints: for each port it names, its endpoints
     * (deduplicated by ip:port, preferring a ready copy, sorted). Ports with a null port number
     * are skipped; slices of headless Services and FQDN slices contribute nothing. Only the first
     * address of an endpoint is used, as upstream does.
     *
     * @throws MalformedObjectException for a missing label or field, an invalid port or address
     */
    public static Map<ServicePortName, List<Endpoint>> endpoints(EndpointSlice slice) {
        if (isHeadless(slice)) {
            return Map.of();
        }
        String serviceKey = serviceKeyOf(slice);
        ObjectMeta meta = slice.getMetadata();
        String namespace = meta.getNamespace();
        String serviceName = serviceKey.substring(namespace.length() + 1);
        Problems p = new Problems("EndpointSlice", namespace, meta.getName());
        String addressType = slice.getAddressType();
        p.require(notEmpty(addressType), "addressType: missing (expected: IPv4, IPv6 or FQDN)");
        if ("FQDN".equals(addressType)) {
            return Map.of();
        }
        IpFamily family = IpFamily.fromAddressType(addressType);
        p.require(family != null, "addressType: " + addressType + " (expected: IPv4, IPv6 or FQDN)");

        // Endpoints first (they do not depend on the port), then one list per port.
        List<io.fabric8.kubernetes.api.model.discovery.v1.Endpoint> specEndpoints = orEmpty(slice.getEndpoints());
        List<EndpointTemplate> templates = new ArrayList<>(specEndpoints.size());
        for (int i = 0; i < specEndpoints.size(); i++) {
            templates.add(template(specEndpoints.get(i), "endpoints[" + i + "]", family, p));
        }

        Map<ServicePortName, List<Endpoint>> out = new LinkedHashMap<>();
        List<EndpointPort> ports = orEmpty(slice.getPorts());
        for (int j = 0; j < ports.size(); j++) {
            EndpointPort ep = ports.get(j);
            String at = "ports[" + j + "]";
            if (ep == null || ep.getPort() == null) {
                continue; // upstream: a port without a number means "all ports", which proxies cannot use
            }
            int port = portValue(ep.getPort(), at + ".port", false, p);
            Protocol protocol = protocol(ep.getProtocol(), at + ".protocol", p);
            if (notEmpty(ep.getName())) {
                requireName(ep.getName(), DNS1123_LABEL, at + ".name", "a DNS-1123 label", p);
            }
            ServicePortName spn = new ServicePortName(namespace, serviceName, ep.getName() == null ? "" : ep.getName(),
                    protocol);
            if (out.containsKey(spn)) {
                throw p.fail(at + ": duplicate port name \"" + spn.port() + "\" with protocol " + protocol
                        + " (expected: unique port names)");
            }
            Map<String, Endpoint> byHostPort = new LinkedHashMap<>();
            for (EndpointTemplate t : templates) {
                mergePreferReady(byHostPort, t.at(port));
            }
            out.put(spn, sorted(byHostPort.values()));
        }
        return Collections.unmodifiableMap(out);
    }

    /** Adds {@code ep} unless an endpoint with the same ip:port is there already; a ready copy wins. */
    static void mergePreferReady(Map<String, Endpoint> byHostPort, Endpoint ep) {
        byHostPort.merge(ep.hostPort(), ep, (old, neu) -> !old.ready() && neu.ready() ? neu : old);
    }

    static List<Endpoint> sorted(java.util.Collection<Endpoint> endpoints) {
        List<Endpoint> list = new ArrayList<>(endpoints);
        list.sort(null);
        return List.copyOf(list);
    }

    /** An endpoint without its port: the slice's ports multiply it. */
    private record EndpointTemplate(String ip, boolean ready, boolean serving, boolean terminating, String nodeName,
                                    String zone, Set<String> zoneHints, Set<String> nodeHints) {
        Endpoint at(int port) {
            return new Endpoint(ip, port, ready, serving, terminating, nodeName, zone, zoneHints, nodeHints);
        }
    }

    private static EndpointTemplate template(io.fabric8.kubernetes.api.model.discovery.v1.Endpoint e, String at,
                                             IpFamily family, Problems p) {
        p.require(e != null, at + ": null (expected: an endpoint)");
        List<String> addresses = orEmpty(e.getAddresses());
        p.require(!addresses.isEmpty(), at + ".addresses: empty (expected: at least one address)");
        String ip = canonicalIp(addresses.get(0), at + ".addresses[0]", p);
        if (IpFamily.of(ip) != family) {
            throw p.fail(at + ".addresses[0]: \"" + addresses.get(0) + "\" is " + IpFamily.of(ip)
                    + " (expected: an " + family + " address, as the slice's addressType says)");
        }
        EndpointConditions c = e.getConditions();
        Boolean readyValue = c == null ? null : c.getReady();
        Boolean servingValue = c == null ? null : c.getServing();
        Boolean terminatingValue = c == null ? null : c.getTerminating();
        // The API: ready nil means ready; serving nil defers to ready; terminating nil means not terminating.
        boolean ready = readyValue == null || readyValue;
        boolean serving = servingValue == null ? ready : servingValue;
        boolean terminating = terminatingValue != null && terminatingValue;
        Set<String> zoneHints = new LinkedHashSet<>();
        Set<String> nodeHints = new LinkedHashSet<>();
        EndpointHints hints = e.getHints();
        if (hints != null) {
            for (ForZone z : orEmpty(hints.getForZones())) {
                if (z != null && notEmpty(z.getName())) {
                    zoneHints.add(z.getName());
                }
            }
            for (ForNode n : orEmpty(hints.getForNodes())) {
                if (n != null && notEmpty(n.getName())) {
                    nodeHints.add(n.getName());
                }
            }
        }
        return new EndpointTemplate(ip, ready, serving, terminating, e.getNodeName(), e.getZone(), zoneHints,
                nodeHints);
    }

    // ------------------------------------------------------------------------------------- Node

    /** {@link #nodeInfo(Node, Consumer)} without warnings. */
    public static NodeInfo nodeInfo(Node node) {
        return nodeInfo(node, IGNORE);
    }

    /**
     * This node's name, labels, IPs (InternalIP first, then ExternalIP) and pod CIDRs. Invalid
     * addresses and CIDRs are dropped with a warning: the node's own object must never stop the proxy.
     *
     * @throws MalformedObjectException when the Node has no name
     */
    public static NodeInfo nodeInfo(Node node, Consumer<String> warnings) {
        ObjectMeta meta = node.getMetadata();
        String name = meta == null ? null : meta.getName();
        Problems p = new Problems("Node", "", name);
        p.require(notEmpty(name), "metadata.name: missing (expected: the Node's name)");
        Map<String, String> labels = meta.getLabels() == null ? Map.of() : meta.getLabels();

        Set<String> addresses = new LinkedHashSet<>();
        List<NodeAddress> status = node.getStatus() == null ? List.of() : orEmpty(node.getStatus().getAddresses());
        for (String wanted : List.of("InternalIP", "ExternalIP")) {
            for (int i = 0; i < status.size(); i++) {
                NodeAddress a = status.get(i);
                if (a == null || !wanted.equals(a.getType())) {
                    continue;
                }
                try {
                    addresses.add(IpAddresses.canonical(a.getAddress()));
                } catch (IllegalArgumentException e) {
                    warnings.accept("status.addresses[" + i + "].address: \"" + a.getAddress()
                            + "\" (expected: an IPv4 or IPv6 literal); ignored");
                }
            }
        }

        Set<String> podCIDRs = new LinkedHashSet<>();
        if (node.getSpec() != null) {
            List<String> raw = orEmpty(node.getSpec().getPodCIDRs());
            String field = "spec.podCIDRs";
            if (raw.isEmpty() && notEmpty(node.getSpec().getPodCIDR())) {
                raw = List.of(node.getSpec().getPodCIDR());
                field = "spec.podCIDR";
            }
            for (int i = 0; i < raw.size(); i++) {
                try {
                    podCIDRs.add(IpAddresses.canonicalCidr(raw.get(i)));
                } catch (IllegalArgumentException e) {
                    warnings.accept(field + "[" + i + "]: \"" + raw.get(i) + "\" (expected: a CIDR); ignored");
                }
            }
        }
        return new NodeInfo(name, labels, List.copyOf(addresses), List.copyOf(podCIDRs));
    }

    // ---------------------------------------------------------------------------------- helpers

    private static String canonicalIp(String value, String field, Problems p) {
        try {
            return IpAddresses.canonical(value);
        } catch (IllegalArgumentException e) {
            throw p.fail(field + ": \"" + (value == null ? "" : value) + "\" (expected: an IPv4 or IPv6 literal)");
        }
    }

    private static int portValue(Integer value, String field, boolean zeroAllowed, Problems p) {
        if (value == null) {
            if (zeroAllowed) {
                return 0;
            }
            throw p.fail(field + ": missing (expected: 1-65535)");
        }
        int v = value;
        if (v < 0 || v > 65535 || (v == 0 && !zeroAllowed)) {
            throw p.fail(field + ": " + v + " (expected: " + (zeroAllowed ? "0-65535" : "1-65535") + ")");
        }
        return v;
    }

    private static Protocol protocol(String value, String field, Problems p) {
        try {
            return Protocol.parse(value);
        } catch (IllegalArgumentException e) {
            throw p.fail(field + ": " + value + " (expected: TCP, UDP or SCTP)");
        }
    }

    private static void requireName(String value, java.util.regex.Pattern syntax, String field, String expected,
                                    Problems p) {
        if (!syntax.matcher(value).matches()) {
            throw p.fail(field + ": \"" + value + "\" (expected: " + expected + ")");
        }
    }

    private static boolean notEmpty(String s) {
        return s != null && !s.isEmpty();
    }

    private static <T> List<T> orEmpty(List<T> list) {
        return list == null ? List.of() : list;
    }

    /** Builds {@link MalformedObjectException}s naming one object. */
    private record Problems(String kind, String namespace, String name) {
        MalformedObjectException fail(String problem) {
            return new MalformedObjectException(kind, namespace, name, problem);
        }

        void require(boolean condition, String problem) {
            if (!condition) {
                throw fail(problem);
            }
        }
    }
}
