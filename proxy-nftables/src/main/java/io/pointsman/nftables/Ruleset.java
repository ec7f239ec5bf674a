package io.pointsman.nftables;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.topology.EndpointSelector;
import io.pointsman.core.topology.EndpointSelector.Selection;
import io.pointsman.nftables.Contribution.Element;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The map-based ruleset of one IP family, as data. Pure: no I/O.
 *
 * <p>Dispatch is O(1): {@code services} looks the packet's destination address, protocol and port
 * up in the verdict map {@code service-ips} (node ports: protocol and port in
 * {@code service-nodeports}), which sends it to a shared chain {@code lb-K}, K the number of
 * endpoints. That chain picks a slot with {@code numgen random mod K} and goes to the slot's chain
 * {@code backend-I}, which DNATs through the map {@code backends-I}: service address, protocol and
 * port to the service's I-th endpoint. The chains are few and fixed; what a Service change alters
 * are map elements, so a sync is a small transaction of element deltas.
 *
 * <p>One map per slot rather than one map keyed by slot too: nft 1.0.6 cannot add a rule that
 * DNATs through an existing map whose key holds {@code numgen} (such a key needs {@code typeof},
 * and reading a {@code typeof ... : ip daddr . th dport} map back fails with "conflicting
 * protocols"), so every later sync that needs a new {@code lb-K} chain would fail. Explicitly
 * typed maps have no such problem. The element count is the same.
 *
 * <p>The {@code -sc} variants hold an external address's cluster-wide endpoints, used when
 * externalTrafficPolicy is Local but the traffic comes from a pod or from the node itself
 * (upstream's short-circuit); the {@code np-} variants are keyed by node port.
 */
final class Ruleset {
    static final String CLUSTER_IPS = "cluster-ips";
    static final String SERVICE_IPS = "service-ips";
    static final String SERVICE_NODEPORTS = "service-nodeports";
    static final String SHORT_CIRCUIT_IPS = "short-circuit-ips";
    static final String SHORT_CIRCUIT_NODEPORTS = "short-circuit-nodeports";
    static final String MASQUERADE_IPS = "masquerade-ips";
    static final String MASQUERADE_LOCAL_IPS = "masquerade-local-ips";
    static final String MASQUERADE_NODEPORTS = "masquerade-nodeports";
    static final String MASQUERADE_LOCAL_NODEPORTS = "masquerade-local-nodeports";
    static final String NO_ENDPOINT_SERVICES = "no-endpoint-services";
    static final String NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports";
    static final String FIREWALL_IPS = "firewall-ips";
    static final String FIREWALL_ALLOW = "firewall-allow";
    static final String NODEPORT_ADDRESSES = "nodeport-addresses";
    static final String HEALTH_CHECK_NODEPORTS = "health-check-nodeports";
    static final String HAIRPIN = "hairpin";
    static final String AFFINITY_SERVICES = "affinity-services";
    static final String AFFINITY_NODEPORTS = "affinity-nodeports";

    static final String REJECT_CHAIN = "reject-chain";
    static final String GOTO_REJECT = "goto " + REJECT_CHAIN;
    static final String DROP = "drop";

    /**
     * The shared load-balancing chain families: how the backends key is built (service address or
     * node port) and whose endpoints the slots hold (the entry's own, or the cluster-wide ones of
     * the short-circuit).
     */
    enum LbFamily {
        ADDRESS("lb-", "backend-", "backends-", false),
        ADDRESS_SHORT_CIRCUIT("lb-sc-", "backend-sc-", "backends-sc-", false),
        NODEPORT("np-lb-", "np-backend-", "np-backends-", true),
        NODEPORT_SHORT_CIRCUIT("np-lb-sc-", "np-backend-sc-", "np-backends-sc-", true);

        final String prefix;
        final String slotChainPrefix;
        final String slotMapPrefix;
        final boolean nodePort;

        LbFamily(String prefix, String slotChainPrefix, String slotMapPrefix, boolean nodePort) {
            this.prefix = prefix;
            this.slotChainPrefix = slotChainPrefix;
            this.slotMapPrefix = slotMapPrefix;
            this.nodePort = nodePort;
        }

        // Names of the first slots, made once: every backend element names its slot's map.
        private final String[] slotMaps = new String[256];
        private final String[] slotChains = new String[256];

        String chain(int k) {
            return prefix + k;
        }

        String slotChain(int slot) {
            if (slot >= slotChains.length) {
                return slotChainPrefix + slot;
            }
            String s = slotChains[slot];
            if (s == null) {
                s = slotChainPrefix + slot;
                slotChains[slot] = s;
            }
            return s;
        }

        String slotMap(int slot) {
            if (slot >= slotMaps.length) {
                return slotMapPrefix + slot;
            }
            String s = slotMaps[slot];
            if (s == null) {
                s = slotMapPrefix + slot;
                slotMaps[slot] = s;
            }
            return s;
        }

        /** The family and K of a chain name, null when it is no load-balancing chain. */
        static Object[] parse(String chain) {
            // Longest prefix first: "np-lb-sc-" before "np-lb-", "lb-sc-" before "lb-".
            for (LbFamily f : List.of(NODEPORT_SHORT_CIRCUIT, NODEPORT, ADDRESS_SHORT_CIRCUIT, ADDRESS)) {
                if (chain.startsWith(f.prefix)) {
                    String rest = chain.substring(f.prefix.length());
                    if (!rest.isEmpty() && rest.length() <= 6 && rest.chars().allMatch(Character::isDigit)) {
                        int k = Integer.parseInt(rest);
                        if (k >= 1) {
                            return new Object[] {f, k};
                        }
                    }
                    return null;
                }
            }
            return null;
        }
    }

    private final NftOptions options;
    private final IpFamily family;
    private final String ip;
    /** "ip daddr . meta l4proto . th dport": the service-address key of packets. */
    private final String addrKey;

    Ruleset(NftOptions options) {
        this.options = requireNonNull(options, "options");
        this.family = options.family();
        this.ip = options.ip();
        this.addrKey = ip + " daddr . meta l4proto . th dport";
    }

    NftOptions options() {
        return options;
    }

    // ---------------------------------------------------------------------------------------------
    // The static part: sets, chains and node-dependent elements.

    /** The table, its sets and chains, and the elements that depend on the node only. */
    Contribution staticPart(NodeInfo node) {
        List<Element> elements = new ArrayList<>();
        if (!options.nodePortsMatchAll()) {
            for (String cidr : nodePortAddresses(node)) {
                elements.add(new Element(NODEPORT_ADDRESSES, cidr, ""));
            }
        }
        return new Contribution(elements, staticSets(), staticChains(node), List.of(), 0, 0);
    }

    List<SetDef> staticSets() {
        String a = ip + " daddr";
        String portKey = "meta l4proto . th dport";
        List<SetDef> s = new ArrayList<>();
        s.add(set(CLUSTER_IPS, a, null, "Active ClusterIPs"));
        s.add(set(SERVICE_IPS, addrKey, "verdict", "ClusterIP, external IP and load-balancer IP dispatch"));
        s.add(set(SERVICE_NODEPORTS, portKey, "verdict", "NodePort dispatch"));
        s.add(set(SHORT_CIRCUIT_IPS, addrKey, "verdict",
                "externalTrafficPolicy Local: pod and node traffic to cluster-wide endpoints"));
        s.add(set(SHORT_CIRCUIT_NODEPORTS, portKey, "verdict",
                "externalTrafficPolicy Local: pod and node traffic to node ports"));
        s.add(set(MASQUERADE_IPS, addrKey, null, "external destinations with externalTrafficPolicy Cluster"));
        s.add(set(MASQUERADE_LOCAL_IPS, addrKey, null, "external destinations with externalTrafficPolicy Local"));
        s.add(set(MASQUERADE_NODEPORTS, portKey, null, "node ports with externalTrafficPolicy Cluster"));
        s.add(set(MASQUERADE_LOCAL_NODEPORTS, portKey, null, "node ports with externalTrafficPolicy Local"));
        s.add(set(NO_ENDPOINT_SERVICES, addrKey, "verdict", "drop or reject traffic to services without endpoints"));
        s.add(set(NO_ENDPOINT_NODEPORTS, portKey, "verdict", "drop or reject traffic to node ports without endpoints"));
        s.add(set(FIREWALL_IPS, addrKey, null, "destinations subject to loadBalancerSourceRanges"));
        s.add(new SetDef(FIREWALL_ALLOW, addrKey + " . " + ip + " saddr", null, false, List.of("interval"), 0,
                "sources loadBalancerSourceRanges allow"));
        if (!options.nodePortsMatchAll()) {
            s.add(new SetDef(NODEPORT_ADDRESSES, a, null, false, List.of("interval"), 0,
                    "addresses that accept NodePort traffic"));
        }
        s.add(set(HEALTH_CHECK_NODEPORTS, "th dport", null, "health-check node ports"));
        s.add(set(HAIRPIN, ip + " saddr . " + ip + " daddr", null, "endpoints that may reach themselves through a service"));
        s.add(set(AFFINITY_SERVICES, addrKey, "verdict", "ClientIP affinity: record the chosen endpoint"));
        s.add(set(AFFINITY_NODEPORTS, portKey, "verdict", "ClientIP affinity: record the chosen endpoint"));
        return s;
    }

    private static SetDef set(String name, String key, String data, String comment) {
        return new SetDef(name, key, data, false, List.of(), 0, comment);
    }

    List<ChainDef> staticChains(NodeInfo node) {
        String mark = options.masqueradeMark();
        String markIt = "mark set mark or " + mark;
        String[] detector = localDetector(node);
        String ifLocal = detector == null ? null : detector[0];
        String ifNotLocal = detector == null ? null : detector[1];
        String np = nodePortMatch();
        String portKey = "meta l4proto . th dport";

        List<ChainDef> c = new ArrayList<>();
        c.add(new ChainDef("nat-prerouting", "type nat hook prerouting priority dstnat ;", List.of("jump services")));
        c.add(new ChainDef("nat-output", "type nat hook output priority -100 ;", List.of("jump services")));
        c.add(new ChainDef("nat-postrouting", "type nat hook postrouting priority srcnat ;",
                List.of("jump affinity-record", "jump masquerading")));
        // Endpoints in the host's own network namespace never reach postrouting.
        c.add(new ChainDef("nat-input", "type nat hook input priority 100 ;", List.of("jump affinity-record")));

        List<String> services = new ArrayList<>();
        if (options.masqueradeAll()) {
            services.add(ip + " daddr @" + CLUSTER_IPS + " " + markIt);
        } else if (ifNotLocal != null) {
            // Off-cluster traffic to a ClusterIP may have been routed here by another node: masquerade
            // it so the reply comes back this way.
            services.add(ifNotLocal + " " + ip + " daddr @" + CLUSTER_IPS + " " + markIt);
        }
        services.add(addrKey + " @" + MASQUERADE_IPS + " " + markIt);
        services.add(np + " " + portKey + " @" + MASQUERADE_NODEPORTS + " " + markIt);
        // externalTrafficPolicy Local: pod traffic goes to any endpoint, as if it came back through the
        // load balancer; the node's own traffic too, masqueraded since its source is a local address.
        if (ifLocal != null) {
            services.add(ifLocal + " " + addrKey + " vmap @" + SHORT_CIRCUIT_IPS);
            services.add(ifLocal + " " + np + " " + portKey + " vmap @" + SHORT_CIRCUIT_NODEPORTS);
        }
        services.add(addrKey + " @" + MASQUERADE_LOCAL_IPS + " fib saddr type local " + markIt + " " + addrKey
                + " vmap @" + SHORT_CIRCUIT_IPS);
        services.add(portKey + " @" + MASQUERADE_LOCAL_NODEPORTS + " " + np + " fib saddr type local " + markIt
                + " " + portKey + " vmap @" + SHORT_CIRCUIT_NODEPORTS);
        services.add(addrKey + " vmap @" + SERVICE_IPS);
        services.add(np + " " + portKey + " vmap @" + SERVICE_NODEPORTS);
        c.add(new ChainDef("services", null, services));

        // Marked traffic is masqueraded once; the mark is cleared so a packet that passes the stack
        // again is not masqueraded twice. An endpoint reaching itself through a service must be
        // masqueraded too, or it would answer itself directly.
        c.add(new ChainDef("masquerading", null, List.of(
                "mark and " + mark + " != 0 mark set mark xor " + mark + " masquerade fully-random",
                "ct status dnat " + ip + " saddr . " + ip + " daddr @" + HAIRPIN + " masquerade fully-random")));
        // "ct original proto-dst" is typed only after a transport protocol match.
        c.add(new ChainDef("affinity-record", null, List.of(
                "meta l4proto { tcp, udp, sctp } ct status dnat ct original " + ip
                        + " daddr . meta l4proto . ct original proto-dst vmap @" + AFFINITY_SERVICES,
                "meta l4proto { tcp, udp, sctp } ct status dnat meta l4proto . ct original proto-dst vmap @"
                        + AFFINITY_NODEPORTS)));

        c.add(new ChainDef("filter-prerouting-pre-dnat", "type filter hook prerouting priority -110 ;",
                List.of("ct state new jump firewall-check")));
        c.add(new ChainDef("filter-output-pre-dnat", "type filter hook output priority -110 ;",
                List.of("ct state new jump firewall-check")));
        List<String> input = new ArrayList<>();
        input.add("tcp dport @" + HEALTH_CHECK_NODEPORTS + " accept");
        input.add("ct state new jump nodeport-endpoints-check");
        input.add("ct state new jump service-endpoints-check");
        if (options.localhostNodePorts()) {
            // route_localnet opens 127.0.0.0/8 to the network; only DNATed (NodePort) traffic may use it
            // (CVE-2020-8558).
            input.add("ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state != { established, related }"
                    + " ct status ! dnat drop");
        }
        c.add(new ChainDef("filter-input", "type filter hook input priority filter ;", input));
        c.add(new ChainDef("filter-forward", "type filter hook forward priority filter ;",
                List.of("ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check")));
        c.add(new ChainDef("filter-output", "type filter hook output priority filter ;",
                List.of("ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check")));
        c.add(new ChainDef("firewall-check", null, List.of(addrKey + " @" + FIREWALL_IPS + " " + addrKey + " . " + ip
                + " saddr != @" + FIREWALL_ALLOW + " drop")));
        c.add(new ChainDef("service-endpoints-check", null, List.of(addrKey + " vmap @" + NO_ENDPOINT_SERVICES)));
        c.add(new ChainDef("nodeport-endpoints-check", null,
                List.of(np + " " + portKey + " vmap @" + NO_ENDPOINT_NODEPORTS)));
        // Any other port of a ClusterIP is refused rather than routed off the node.
        c.add(new ChainDef("cluster-ips-check", null, List.of(ip + " daddr @" + CLUSTER_IPS + " reject")));
        c.add(new ChainDef(REJECT_CHAIN, null, List.of("reject")));
        return c;
    }

    /** The match for node-port traffic: a local destination address that nodePortAddresses allows. */
    String nodePortMatch() {
        StringBuilder b = new StringBuilder("fib daddr type local");
        if (!options.nodePortsMatchAll()) {
            b.append(' ').append(ip).append(" daddr @").append(NODEPORT_ADDRESSES);
        }
        if (!options.localhostNodePorts()) {
            b.append(' ').append(ip).append(" daddr != ").append(options.loopback());
        }
        return b.toString();
    }

    /**
     * The node-port CIDRs of this family as interval elements: the configured CIDRs (without those
     * inside another) and, for "primary", the node's first address.
     */
    List<String> nodePortAddresses(NodeInfo node) {
        List<String> cidrs = new ArrayList<>(options.nodePortCidrs());
        if (options.nodePortPrimary()) {
            List<String> ips = node.addresses(family);
            if (!ips.isEmpty()) {
                cidrs.add(ips.get(0) + (family == IpFamily.IPv4 ? "/32" : "/128"));
            }
        }
        List<String> out = new ArrayList<>();
        for (String c : withoutContained(cidrs)) {
            out.add(intervalElement(c));
        }
        out.sort(null);
        return out;
    }

    /** {ifLocal, ifNotLocal} matches of the local-traffic detector, null when none applies. */
    String[] localDetector(NodeInfo node) {
        switch (options.detectLocalMode()) {
            case "ClusterCIDR":
                return options.clusterCidr() == null ? null
                        : new String[] {ip + " saddr " + options.clusterCidr(), ip + " saddr != " + options.clusterCidr()};
            case "NodeCIDR":
                for (String cidr : node.podCIDRs()) {
                    if (IpAddresses.familyOf(cidr) == family) {
                        return new String[] {ip + " saddr " + cidr, ip + " saddr != " + cidr};
                    }
                }
                return null;
            case "BridgeInterface":
                return options.bridgeInterface().isEmpty() ? null
                        : new String[] {"iifname \"" + options.bridgeInterface() + "\"",
                                "iifname != \"" + options.bridgeInterface() + "\""};
            case "InterfaceNamePrefix":
                return options.interfaceNamePrefix().isEmpty() ? null
                        : new String[] {"iifname \"" + options.interfaceNamePrefix() + "*\"",
                                "iifname != \"" + options.interfaceNamePrefix() + "*\""};
            default:
                return null;
        }
    }

    /** The definition of a shared load-balancing chain from its name: a random slot of K. */
    ChainDef lbChain(String name) {
        Object[] parsed = LbFamily.parse(name);
        if (parsed == null) {
            throw new IllegalArgumentException("load-balancing chain: " + name
                    + " (expected: lb-K, lb-sc-K, np-lb-K or np-lb-sc-K)");
        }
        LbFamily f = (LbFamily) parsed[0];
        int k = (Integer) parsed[1];
        if (k == 1) {
            return new ChainDef(name, null, List.of("goto " + f.slotChain(0)));
        }
        StringBuilder rule = new StringBuilder("numgen random mod ").append(k).append(" vmap { ");
        for (int i = 0; i < k; i++) {
            rule.append(i == 0 ? "" : ", ").append(i).append(" : goto ").append(f.slotChain(i));
        }
        return new ChainDef(name, null, List.of(rule.append(" }").toString()));
    }

    /** The chain of one slot: DNAT to the slot's endpoint of the packet's service. */
    ChainDef slotChain(LbFamily f, int slot) {
        String key = f.nodePort ? "meta l4proto . th dport" : addrKey;
        return new ChainDef(f.slotChain(slot), null,
                List.of("dnat " + ip + " addr . port to " + key + " map @" + f.slotMap(slot)));
    }

    /** The map of one slot: service address (or node port) to the slot's endpoint. */
    SetDef slotMap(LbFamily f, int slot) {
        String addr = family == IpFamily.IPv4 ? "ipv4_addr" : "ipv6_addr";
        String key = f.nodePort ? "inet_proto . inet_service" : addr + " . inet_proto . inet_service";
        return new SetDef(f.slotMap(slot), key, addr + " . inet_service", true, List.of(), 0, "");
    }

    // ---------------------------------------------------------------------------------------------
    // One service port.

    /** What one service port adds, or null when it has no ClusterIP of this family. */
    Contribution servicePort(ServicePort svc, List<Endpoint> endpoints, NodeInfo node) {
        String clusterIP = svc.clusterIP(family);
        if (clusterIP == null) {
            return null;
        }
        ServicePort view = svc.ofFamily(family);
        Selection sel = EndpointSelector.select(Endpoint.ofFamily(endpoints, family), view, node, true);
        return new ServiceBuilder(view, clusterIP, sel, node).build();
    }

    /** Builds one service port's contribution; one instance per call. */
    private final class ServiceBuilder {
        final ServicePort svc;
        final String clusterIP;
        final Selection sel;
        final NodeInfo node;
        final boolean has;
        final String proto;
        final int port;
        final String id;
        final boolean affinity;
        final List<Element> elements = new ArrayList<>(16);
        // Only ClientIP affinity adds chains and sets of its own.
        Map<String, ChainDef> chains = Map.of();
        Map<String, SetDef> sets = Map.of();
        final List<String> refs = new ArrayList<>(2);

        ServiceBuilder(ServicePort svc, String clusterIP, Selection sel, NodeInfo node) {
            this.svc = svc;
            this.clusterIP = clusterIP;
            this.sel = sel;
            this.node = node;
            this.has = sel.hasAnyEndpoints();
            this.proto = svc.protocol().lower();
            this.port = svc.port();
            this.id = Names.servicePortId(svc.name());
            this.affinity = has && svc.sessionAffinity();
        }

        Contribution build() {
            boolean internalLocal = svc.internalPolicyLocal();
            boolean externalLocal = svc.externalPolicyLocal();
            List<Endpoint> internal = internalLocal ? sel.localEndpoints() : sel.clusterEndpoints();
            List<Endpoint> cluster = sel.clusterEndpoints();
            List<Endpoint> local = sel.localEndpoints();

            add(CLUSTER_IPS, clusterIP, "");
            String cKey = addrKey(clusterIP);
            if (has && !internal.isEmpty()) {
                add(SERVICE_IPS, cKey, target(internal, internalLocal, LbFamily.ADDRESS));
                backends(LbFamily.ADDRESS, cKey, internal);
            } else {
                add(NO_ENDPOINT_SERVICES, cKey, has ? DROP : GOTO_REJECT);
            }

            Set<String> externals = new LinkedHashSet<>(svc.externalIPs());
            externals.addAll(svc.loadBalancerIPs());
            for (String a : externals) {
                external(addrKey(a), cluster, local, externalLocal, false);
            }
            if (svc.nodePort() != 0) {
                external(proto + " . " + svc.nodePort(), cluster, local, externalLocal, true);
            }
            if (has && !svc.loadBalancerIPs().isEmpty() && !svc.loadBalancerSourceRanges().isEmpty()) {
                firewall();
            }
            int hcnp = svc.type() == ServiceType.LOAD_BALANCER && svc.externalTrafficPolicy() == TrafficPolicy.LOCAL
                    ? svc.healthCheckNodePort() : 0;
            if (hcnp != 0) {
                add(HEALTH_CHECK_NODEPORTS, Integer.toString(hcnp), "");
            }
            for (Endpoint ep : sel.allReachable()) {
                // Only a pod on this node can reach itself through this node's rules.
                if (ep.nodeName().isEmpty() || ep.isLocal(node.name())) {
                    add(HAIRPIN, ep.ip() + " . " + ep.ip(), "");
                }
            }
            if (affinity) {
                affinityRecording(externals);
            }
            int noLocalInternal = has && internalLocal && local.isEmpty() ? 1 : 0;
            int noLocalExternal = has && externalLocal && local.isEmpty() ? 1 : 0;
            return new Contribution(elements, List.copyOf(sets.values()), List.copyOf(chains.values()), refs,
                    noLocalInternal, noLocalExternal);
        }

        /**
         * An external entry point (external IP, load-balancer IP or node port): Cluster policy
         * masquerades everything; Local policy keeps the client address and uses local endpoints,
         * but pod and node traffic goes to any endpoint.
         */
        void external(String key, List<Endpoint> cluster, List<Endpoint> local, boolean externalLocal,
                      boolean nodePort) {
            String dispatch = nodePort ? SERVICE_NODEPORTS : SERVICE_IPS;
            String noEndpoints = nodePort ? NO_ENDPOINT_NODEPORTS : NO_ENDPOINT_SERVICES;
            LbFamily lb = nodePort ? LbFamily.NODEPORT : LbFamily.ADDRESS;
            if (!has) {
                add(noEndpoints, key, GOTO_REJECT);
                return;
            }
            if (!externalLocal) {
                if (cluster.isEmpty()) {
                    add(noEndpoints, key, DROP);
                    return;
                }
                add(nodePort ? MASQUERADE_NODEPORTS : MASQUERADE_IPS, key, "");
                add(dispatch, key, target(cluster, false, lb));
                backends(lb, key, cluster);
                return;
            }
            add(nodePort ? MASQUERADE_LOCAL_NODEPORTS : MASQUERADE_LOCAL_IPS, key, "");
            if (local.isEmpty()) {
                add(noEndpoints, key, DROP);
            } else {
                add(dispatch, key, target(local, true, lb));
                backends(lb, key, local);
            }
            if (!cluster.isEmpty()) {
                LbFamily sc = nodePort ? LbFamily.NODEPORT_SHORT_CIRCUIT : LbFamily.ADDRESS_SHORT_CIRCUIT;
                add(nodePort ? SHORT_CIRCUIT_NODEPORTS : SHORT_CIRCUIT_IPS, key, target(cluster, false, sc));
                backends(sc, key, cluster);
            }
        }

        /**
         * Where a dispatch element sends traffic for {@code endpoints}: the shared lb chain, or with
         * ClientIP affinity this service's chain that first tries the client's recorded endpoint.
         */
        String target(List<Endpoint> endpoints, boolean localList, LbFamily lb) {
            String lbChain = lb.chain(endpoints.size());
            if (!refs.contains(lbChain)) {
                refs.add(lbChain);
            }
            if (!affinity) {
                return "goto " + lbChain;
            }
            boolean shortCircuit = lb == LbFamily.ADDRESS_SHORT_CIRCUIT || lb == LbFamily.NODEPORT_SHORT_CIRCUIT;
            String tag = (lb.nodePort ? "np-" : "") + (shortCircuit ? "sc" : localList ? "local" : "cluster");
            String name = Names.named("affinity-" + tag, id);
            if (chains.isEmpty()) {
                chains = new LinkedHashMap<>();
            }
            if (!chains.containsKey(name)) {
                List<String> rules = new ArrayList<>(endpoints.size() + 1);
                for (Endpoint ep : endpoints) {
                    rules.add(ip + " saddr @" + affinitySet(ep) + " meta l4proto " + proto + " dnat to "
                            + (family == IpFamily.IPv6 ? "[" + ep.ip() + "]" : ep.ip()) + ":" + ep.port());
                }
                rules.add("goto " + lbChain);
                chains.put(name, new ChainDef(name, null, rules));
            }
            return "goto " + name;
        }

        /** The dynamic set of clients stuck to one endpoint, created on first use. */
        String affinitySet(Endpoint ep) {
            String name = Names.named("affinity", Names.endpointId(svc.name(), ep));
            if (sets.isEmpty()) {
                sets = new LinkedHashMap<>();
            }
            sets.computeIfAbsent(name, n -> new SetDef(n, ip + " saddr", null, false, List.of("dynamic", "timeout"),
                    svc.affinityTimeoutSeconds(), ""));
            return name;
        }

        /** After DNAT, the endpoint a new connection went to is recorded for its client. */
        void affinityRecording(Set<String> externals) {
            String name = Names.named("affinity-record", id);
            if (chains.isEmpty()) {
                chains = new LinkedHashMap<>();
            }
            List<String> rules = new ArrayList<>();
            for (Endpoint ep : sel.allReachable()) {
                rules.add(ip + " daddr " + ep.ip() + " th dport " + ep.port() + " update @" + affinitySet(ep)
                        + " { " + ip + " saddr }");
            }
            chains.put(name, new ChainDef(name, null, rules));
            add(AFFINITY_SERVICES, addrKey(clusterIP), "goto " + name);
            for (String a : externals) {
                add(AFFINITY_SERVICES, addrKey(a), "goto " + name);
            }
            if (svc.nodePort() != 0) {
                add(AFFINITY_NODEPORTS, proto + " . " + svc.nodePort(), "goto " + name);
            }
        }

        /** loadBalancerSourceRanges: the load-balancer IPs drop sources outside the ranges. */
        void firewall() {
            List<String> nodeIPs = node.addresses(family);
            String nodeIP = nodeIPs.isEmpty() ? null : nodeIPs.get(0);
            List<String> sources = new ArrayList<>(withoutContained(svc.loadBalancerSourceRanges()));
            boolean allowFromNode = false;
            for (String cidr : svc.loadBalancerSourceRanges()) {
                allowFromNode |= nodeIP != null && IpAddresses.cidrContains(cidr, nodeIP);
            }
            if (allowFromNode) {
                // A node reaching a VIP-style load balancer it routes locally shows the VIP as source.
                for (String lbIP : svc.loadBalancerIPs()) {
                    sources.add(lbIP + (family == IpFamily.IPv4 ? "/32" : "/128"));
                }
                sources = withoutContained(sources);
            }
            for (String lbIP : svc.loadBalancerIPs()) {
                String key = addrKey(lbIP);
                add(FIREWALL_IPS, key, "");
                for (String src : sources) {
                    add(FIREWALL_ALLOW, key + " . " + intervalElement(src), "");
                }
            }
        }

        void backends(LbFamily lb, String key, List<Endpoint> endpoints) {
            for (int i = 0; i < endpoints.size(); i++) {
                Endpoint ep = endpoints.get(i);
                add(lb.slotMap(i), key, ep.ip() + " . " + ep.port());
            }
        }

        String addrKey(String address) {
            return address + " . " + proto + " . " + port;
        }

        void add(String set, String key, String value) {
            elements.add(new Element(set, key, value));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers.

    /** An interval element for a CIDR: the bare address for a full-length prefix, as nft lists it. */
    String intervalElement(String cidr) {
        String c = IpAddresses.canonicalCidr(cidr);
        int slash = c.indexOf('/');
        int len = Integer.parseInt(c.substring(slash + 1));
        return len == (family == IpFamily.IPv4 ? 32 : 128) ? c.substring(0, slash) : c;
    }

    /** The CIDRs that no other CIDR of the list contains (overlapping intervals are refused), sorted, once each. */
    static List<String> withoutContained(List<String> cidrs) {
        List<String> canonical = new ArrayList<>();
        for (String c : cidrs) {
            String cc = IpAddresses.canonicalCidr(c);
            if (!canonical.contains(cc)) {
                canonical.add(cc);
            }
        }
        List<String> out = new ArrayList<>();
        for (String c : canonical) {
            boolean contained = false;
            for (String other : canonical) {
                if (!other.equals(c) && contains(other, c)) {
                    contained = true;
                    break;
                }
            }
            if (!contained) {
                out.add(c);
            }
        }
        out.sort(null);
        return out;
    }

    private static boolean contains(String outer, String inner) {
        int po = Integer.parseInt(outer.substring(outer.indexOf('/') + 1));
        int pi = Integer.parseInt(inner.substring(inner.indexOf('/') + 1));
        return IpAddresses.familyOf(outer) == IpAddresses.familyOf(inner) && po <= pi
                && IpAddresses.cidrContains(outer, inner.substring(0, inner.indexOf('/')));
    }
}
