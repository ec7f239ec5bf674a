package io.pointsman.iptables;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.model.Endpoint;
import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.NodeInfo;
import io.pointsman.core.model.ProxyState;
import io.pointsman.core.model.ServicePort;
import io.pointsman.core.model.ServicePortName;
import io.pointsman.core.model.ServiceType;
import io.pointsman.core.model.TrafficPolicy;
import io.pointsman.core.topology.EndpointSelector;
import io.pointsman.core.topology.EndpointSelector.Selection;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Turns a {@link ProxyState} into upstream kube-proxy's iptables-restore input for one IP family:
 * the same chains, hashes, rule text, comments and order (reference §2). Pure: no I/O; the
 * only state kept between calls is reusable buffers and a cache of chain-name hashes.
 *
 * <p>Use: {@link #render} fills this renderer's buffers and answers what it wrote, then
 * {@link #writePayload} assembles the restore text with whatever the caller adds (jump rules,
 * chain deletions). Not thread-safe: one renderer per family, used by one thread.
 */
public final class IptablesRenderer {
    public static final String KUBE_SERVICES = "KUBE-SERVICES";
    public static final String KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES";
    public static final String KUBE_NODEPORTS = "KUBE-NODEPORTS";
    public static final String KUBE_POSTROUTING = "KUBE-POSTROUTING";
    public static final String KUBE_MARK_MASQ = "KUBE-MARK-MASQ";
    public static final String KUBE_FORWARD = "KUBE-FORWARD";
    public static final String KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL";
    public static final String KUBE_FIREWALL = "KUBE-FIREWALL";

    static final String NODEPORTS_COMMENT =
            "\"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
    static final String LOCALHOST_NODEPORTS_COUNTER = "localhost_nps_accepted_pkts";
    static final String INVALID_DROPPED_COUNTER = "ct_state_invalid_dropped_pkts";

    private final RenderOptions options;
    private final IpFamily family;
    private final String loopbackNet;

    // Reused between renders: a large state renders tens of megabytes, so growing fresh buffers
    // every sync would cost more than the rendering itself.
    private final StringBuilder filterChains = new StringBuilder(1 << 10);
    private final StringBuilder filterRules = new StringBuilder(1 << 12);
    private final StringBuilder natChains = new StringBuilder(1 << 12);
    private final StringBuilder natRules = new StringBuilder(1 << 16);
    private int filterChainCount;
    private int filterRuleCount;
    private int natChainCount;
    private int natRuleCount;

    /** Service hash by service port, kept for the service ports of the last render only. */
    private Map<ServicePortName, String> serviceHashes = new HashMap<>();
    /** Endpoint chain names by service port and "ip:port", kept for the last render only. */
    private Map<ServicePortName, Map<String, String>> endpointChains = new HashMap<>();
    /** The hash input of the service port whose endpoint chains are being named (one at a time). */
    private ServicePortName hashInputOf;
    private byte[] hashInput;
    /** Local-traffic detector matches ("-s 10.0.0.0/8", "! -s 10.0.0.0/8") for this render, null when none. */
    private String ifLocal;
    private String ifNotLocal;

    public IptablesRenderer(RenderOptions options) {
        this.options = requireNonNull(options, "options");
        this.family = options.family();
        this.loopbackNet = family == IpFamily.IPv4 ? "127.0.0.0/8" : "::1/128";
    }

    public RenderOptions options() {
        return options;
    }

    /** The top-level chains every payload declares (and so flushes and rewrites) in {@code table}. */
    public Set<String> topLevelChains(String table) {
        if ("nat".equals(table)) {
            return Set.of(KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ);
        }
        if (options.localhostNodePorts()) {
            return Set.of(KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL,
                    KUBE_FIREWALL);
        }
        return Set.of(KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL);
    }

    /**
     * The chains and rule count one service port owns in the nat table.
     *
     * @param chains its SVC/SVL/EXT/FW/SEP chains, in the order they were declared
     * @param rules its rules in those chains
     */
    public record ServiceChains(List<String> chains, int rules) {
        public ServiceChains {
            chains = List.copyOf(chains);
        }
    }

    /**
     * What one render wrote into the buffers.
     *
     * @param written per-service chains of the service ports whose chains were written; the
     *        others were left out of the payload entirely
     * @param noLocalInternal service ports with internalTrafficPolicy Local and no local endpoints
     * @param noLocalExternal service ports with externalTrafficPolicy Local and no local endpoints
     */
    public record Rendered(int filterChains, int filterRules, int natChains, int natRules,
                           Map<ServicePortName, ServiceChains> written, int servicePorts,
                           int noLocalInternal, int noLocalExternal) {
    }

    /** Lines a caller adds to one table of the payload (jump rules, chain declarations). */
    public record Extra(List<String> chainLines, List<String> ruleLines) {
        public static final Extra NONE = new Extra(List.of(), List.of());

        public Extra {
            chainLines = List.copyOf(chainLines);
            ruleLines = List.copyOf(ruleLines);
        }
    }

    /** Renders every chain of every service port (a full sync). */
    public Rendered render(ProxyState state) {
        return render(state, name -> true);
    }

    /**
     * Renders the top-level chains in full and the per-service chains of the service ports
     * {@code writeChains} accepts. The others are left out, as a partial sync leaves them in the kernel.
     */
    public Rendered render(ProxyState state, Predicate<ServicePortName> writeChains) {
        filterChains.setLength(0);
        filterRules.setLength(0);
        natChains.setLength(0);
        natRules.setLength(0);
        filterChainCount = filterRuleCount = natChainCount = natRuleCount = 0;

        NodeInfo node = state.node();
        List<String> nodeIPs = node.addresses(family);
        String nodeIP = nodeIPs.isEmpty() ? null : nodeIPs.get(0);
        String[] detector = localDetector(node);
        ifLocal = detector == null ? null : detector[0];
        ifNotLocal = detector == null ? null : detector[1];

        writeFixedRules();

        Map<ServicePortName, String> hashes = new HashMap<>(serviceHashes.size() * 2 + 16);
        Map<ServicePortName, Map<String, String>> sepNames = new HashMap<>(endpointChains.size() * 2 + 16);
        Map<ServicePortName, ServiceChains> written = new HashMap<>();
        int servicePorts = 0;
        int noLocalInternal = 0;
        int noLocalExternal = 0;
        for (ServicePort svc : state.sortedServices().values()) {
            String clusterIP = svc.clusterIP(family);
            if (clusterIP == null) {
                continue; // not a service of this family
            }
            servicePorts++;
            ServicePortName name = svc.name();
            String hash = serviceHashes.get(name);
            if (hash == null) {
                hash = ChainNames.serviceHash(name);
            }
            hashes.put(name, hash);
            ServicePort view = familyView(svc);
            Plan plan = new Plan(view, clusterIP, hash, select(endpointsOfFamily(state.endpointsOf(name)), view, node));
            // Endpoints exist, just none on this node for a Local policy.
            if (plan.hasEndpoints && !plan.hasInternalEndpoints) {
                noLocalInternal++;
            }
            if (plan.hasEndpoints && !plan.hasExternalEndpoints) {
                noLocalExternal++;
            }
            writeEntryRules(plan);

            Map<String, String> oldSeps = endpointChains.get(name);
            if (!writeChains.test(name)) {
                if (oldSeps != null) {
                    sepNames.put(name, oldSeps);
                }
                continue;
            }
            Map<String, String> seps = new HashMap<>(plan.sel.allReachable().size() * 2 + 2);
            written.put(name, writeServiceChains(plan, nodeIP, oldSeps, seps));
            sepNames.put(name, seps);
        }
        serviceHashes = hashes;
        endpointChains = sepNames;

        writeForwardRules();
        writeNodePortsJump(node);
        return new Rendered(filterChainCount, filterRuleCount, natChainCount, natRuleCount, written, servicePorts,
                noLocalInternal, noLocalExternal);
    }

    /**
     * What one service port needs, decided once from its endpoints; the names follow upstream's
     * syncProxyRules so the two are easy to hold side by side.
     */
    private static final class Plan {
        final ServicePort svc;
        final ServicePortName name;
        final String s; // "ns/name:port", in every comment
        final String protoMatch; // " -m tcp -p tcp"
        final String clusterIP;
        final int port;
        final String svcChain;
        final String svlChain;
        final String extChain;
        final String fwChain;
        final Selection sel;
        final boolean hasEndpoints;
        final boolean externalLocal;
        final boolean usesClusterChain;
        final boolean usesLocalChain;
        final String internalChain;
        final boolean hasInternalEndpoints;
        final String externalPolicyChain;
        final boolean hasExternalEndpoints;
        /** The EXT chain exists even without external endpoints: its short-circuit rules for pod and host traffic still apply. */
        final boolean usesExtChain;
        final boolean usesFwChain;
        final String lbChain;
        /** REJECT or DROP for internal / external traffic that has nowhere to go; null when it has. */
        final String internalTarget;
        final String internalComment;
        final String externalTarget;
        final String externalComment;

        Plan(ServicePort svc, String clusterIP, String hash, Selection sel) {
            this.svc = svc;
            this.name = svc.name();
            this.s = name.toString();
            String proto = name.protocol().lower();
            this.protoMatch = " -m " + proto + " -p " + proto;
            this.clusterIP = clusterIP;
            this.port = svc.port();
            this.svcChain = ChainNames.SERVICE_PREFIX + hash;
            this.svlChain = ChainNames.LOCAL_PREFIX + hash;
            this.extChain = ChainNames.EXTERNAL_PREFIX + hash;
            this.fwChain = ChainNames.FIREWALL_PREFIX + hash;
            this.sel = sel;
            this.hasEndpoints = sel.hasAnyEndpoints();
            boolean externallyAccessible = svc.externallyAccessible();
            boolean internalLocal = svc.internalPolicyLocal();
            this.externalLocal = svc.externalPolicyLocal();
            boolean noLocal = sel.localEndpoints().isEmpty();

            usesClusterChain = !sel.clusterEndpoints().isEmpty() && (!internalLocal || externallyAccessible);
            usesLocalChain = !noLocal && (internalLocal || externalLocal);
            internalChain = internalLocal ? svlChain : svcChain;
            hasInternalEndpoints = hasEndpoints && !(internalLocal && noLocal);
            externalPolicyChain = externalLocal ? svlChain : svcChain;
            hasExternalEndpoints = hasEndpoints && !(externalLocal && noLocal);
            usesExtChain = hasEndpoints && externallyAccessible;
            usesFwChain = hasEndpoints && !svc.loadBalancerIPs().isEmpty() && !svc.loadBalancerSourceRanges().isEmpty();
            lbChain = usesFwChain ? fwChain : extChain;

            if (!hasEndpoints) {
                internalTarget = externalTarget = "REJECT";
                internalComment = externalComment = "\"" + s + " has no endpoints\"";
            } else {
                internalTarget = hasInternalEndpoints ? null : "DROP";
                internalComment = hasInternalEndpoints ? null : "\"" + s + " has no local endpoints\"";
                externalTarget = hasExternalEndpoints ? null : "DROP";
                externalComment = hasExternalEndpoints ? null : "\"" + s + " has no local endpoints\"";
            }
        }
    }

    /** Rules every payload holds whatever the Services: masquerading and the localnet block. */
    private void writeFixedRules() {
        for (String chain : List.of(KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS,
                KUBE_PROXY_FIREWALL)) {
            chainLine(filterChains, chain);
            filterChainCount++;
        }
        for (String chain : List.of(KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ)) {
            chainLine(natChains, chain);
            natChainCount++;
        }
        String mark = options.masqueradeMark();
        natRule(KUBE_POSTROUTING).append(" -m mark ! --mark ").append(mark).append('/').append(mark)
                .append(" -j RETURN\n");
        // Clear the mark so a packet that traverses the stack again is not masqueraded twice.
        natRule(KUBE_POSTROUTING).append(" -j MARK --xor-mark ").append(mark).append('\n');
        natRule(KUBE_POSTROUTING).append(" -m comment --comment \"kubernetes service traffic requiring SNAT\"")
                .append(" -j MASQUERADE").append(options.randomFully() ? " --random-fully\n" : "\n");
        natRule(KUBE_MARK_MASQ).append(" -j MARK --or-mark ").append(mark).append('\n');
        if (options.localhostNodePorts()) {
            // route_localnet opens NodePorts on 127.0.0.0/8 to the network (CVE-2020-8558);
            // kubelet writes the identical rule.
            chainLine(filterChains, KUBE_FIREWALL);
            filterChainCount++;
            filterRule(KUBE_FIREWALL).append(" -m comment --comment \"block incoming localnet connections\"")
                    .append(" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT")
                    .append(" -j DROP\n");
        }
    }

    private void writeForwardRules() {
        String mark = options.masqueradeMark();
        if (options.dropInvalid()) {
            // Packets conntrack finds INVALID would otherwise reach pods un-NATed and be reset.
            StringBuilder b = filterRule(KUBE_FORWARD).append(" -m conntrack --ctstate INVALID");
            if (options.nfacct()) {
                b.append(" -m nfacct --nfacct-name ").append(INVALID_DROPPED_COUNTER);
            }
            b.append(" -j DROP\n");
        }
        // Marked traffic is service traffic: forward it even when the FORWARD policy is DROP.
        filterRule(KUBE_FORWARD).append(" -m comment --comment \"kubernetes forwarding rules\" -m mark --mark ")
                .append(mark).append('/').append(mark).append(" -j ACCEPT\n");
        filterRule(KUBE_FORWARD).append(" -m comment --comment \"kubernetes forwarding conntrack rule\"")
                .append(" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
    }

    /**
     * The rules that lead into a service port's chains (nat KUBE-SERVICES, KUBE-NODEPORTS) or
     * turn its traffic away (filter): written on every sync, for every service port.
     */
    private void writeEntryRules(Plan p) {
        String s = p.s;
        String protoMatch = p.protoMatch;
        int port = p.port;
        if (p.hasInternalEndpoints) {
            natRule(KUBE_SERVICES).append(" -m comment --comment \"").append(s).append(" cluster IP\"")
                    .append(protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(port)
                    .append(" -j ").append(p.internalChain).append('\n');
        } else {
            filterRule(KUBE_SERVICES).append(" -m comment --comment ").append(p.internalComment)
                    .append(protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(port)
                    .append(" -j ").append(p.internalTarget).append('\n');
        }

        for (String ip : p.svc.externalIPs()) {
            if (p.hasEndpoints) {
                natRule(KUBE_SERVICES).append(" -m comment --comment \"").append(s).append(" external IP\"")
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.extChain).append('\n');
            }
            if (!p.hasExternalEndpoints) {
                filterRule(KUBE_EXTERNAL_SERVICES).append(" -m comment --comment ").append(p.externalComment)
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.externalTarget).append('\n');
            }
        }

        List<String> lbIPs = p.svc.loadBalancerIPs();
        for (String ip : lbIPs) {
            if (p.hasEndpoints) {
                natRule(KUBE_SERVICES).append(" -m comment --comment \"").append(s).append(" loadbalancer IP\"")
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.lbChain).append('\n');
            }
            if (p.usesFwChain) {
                filterRule(KUBE_PROXY_FIREWALL).append(" -m comment --comment \"").append(s)
                        .append(" traffic not accepted by ").append(p.fwChain).append('"')
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j DROP\n");
            }
        }
        if (!p.hasExternalEndpoints) {
            for (String ip : lbIPs) {
                filterRule(KUBE_EXTERNAL_SERVICES).append(" -m comment --comment ").append(p.externalComment)
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.externalTarget).append('\n');
            }
        }

        // NodePorts are not subject to loadBalancerSourceRanges, as upstream.
        int nodePort = p.svc.nodePort();
        if (nodePort != 0) {
            if (p.hasEndpoints) {
                if (options.localhostNodePorts() && options.nfacct()) {
                    natRule(KUBE_NODEPORTS).append(" -m comment --comment ").append(s).append(protoMatch)
                            .append(" -d 127.0.0.0/8 --dport ").append(nodePort)
                            .append(" -m nfacct --nfacct-name ").append(LOCALHOST_NODEPORTS_COUNTER)
                            .append(" -j ").append(p.extChain).append('\n');
                }
                natRule(KUBE_NODEPORTS).append(" -m comment --comment ").append(s).append(protoMatch)
                        .append(" --dport ").append(nodePort).append(" -j ").append(p.extChain).append('\n');
            }
            if (!p.hasExternalEndpoints) {
                filterRule(KUBE_EXTERNAL_SERVICES).append(" -m comment --comment ").append(p.externalComment)
                        .append(" -m addrtype --dst-type LOCAL").append(protoMatch)
                        .append(" --dport ").append(nodePort).append(" -j ").append(p.externalTarget).append('\n');
            }
        }

        // The health-check node port is accepted whether or not there are local endpoints.
        int hcnp = healthCheckNodePort(p.svc);
        if (hcnp != 0) {
            filterRule(KUBE_NODEPORTS).append(" -m comment --comment \"").append(s)
                    .append(" health check node port\" -m tcp -p tcp --dport ").append(hcnp).append(" -j ACCEPT\n");
        }
    }

    /** The service port's own chains: SVC/SVL/EXT/FW and one SEP per reachable endpoint. */
    private ServiceChains writeServiceChains(Plan p, String nodeIP, Map<String, String> oldSeps,
                                             Map<String, String> seps) {
        String s = p.s;
        ServicePortName name = p.name;
        int rulesBefore = natRuleCount;
        List<String> chains = new ArrayList<>(4 + p.sel.allReachable().size());
        if (p.hasInternalEndpoints) {
            if (options.masqueradeAll()) {
                natRule(p.internalChain).append(" -m comment --comment \"").append(s).append(" cluster IP\"")
                        .append(p.protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(p.port)
                        .append(" -j ").append(KUBE_MARK_MASQ).append('\n');
            } else if (ifNotLocal != null) {
                // Masquerade off-cluster traffic to the ClusterIP: it may have been routed here from
                // another node and must return the same way.
                natRule(p.internalChain).append(" -m comment --comment \"").append(s).append(" cluster IP\"")
                        .append(p.protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(p.port)
                        .append(' ').append(ifNotLocal).append(" -j ").append(KUBE_MARK_MASQ).append('\n');
            }
        }

        if (p.usesExtChain) {
            String ext = p.extChain;
            declareNat(ext, chains);
            if (!p.externalLocal) {
                // Endpoints may be on other nodes: masquerade so replies come back through here.
                natRule(ext).append(" -m comment --comment \"masquerade traffic for ").append(s)
                        .append(" external destinations\" -j ").append(KUBE_MARK_MASQ).append('\n');
            } else {
                if (ifLocal != null) {
                    // Pod traffic to an external address behaves as if it left and came back
                    // through a load balancer: no traffic policy applies.
                    natRule(ext).append(" -m comment --comment \"pod traffic for ").append(s)
                            .append(" external destinations\" ").append(ifLocal).append(" -j ").append(p.svcChain)
                            .append('\n');
                }
                // The host's own traffic gets a local address as source, so it needs masquerade.
                natRule(ext).append(" -m comment --comment \"masquerade LOCAL traffic for ").append(s)
                        .append(" external destinations\" -m addrtype --src-type LOCAL -j ").append(KUBE_MARK_MASQ)
                        .append('\n');
                natRule(ext).append(" -m comment --comment \"route LOCAL traffic for ").append(s)
                        .append(" external destinations\" -m addrtype --src-type LOCAL -j ").append(p.svcChain)
                        .append('\n');
            }
            if (p.hasExternalEndpoints) {
                natRule(ext).append(" -j ").append(p.externalPolicyChain).append('\n');
            }
        }

        if (p.usesFwChain) {
            String fw = p.fwChain;
            declareNat(fw, chains);
            boolean allowFromNode = false;
            for (String cidr : p.svc.loadBalancerSourceRanges()) {
                natRule(fw).append(" -m comment --comment \"").append(s).append(" loadbalancer IP\" -s ")
                        .append(cidr).append(" -j ").append(p.extChain).append('\n');
                if (nodeIP != null && IpAddresses.cidrContains(cidr, nodeIP)) {
                    allowFromNode = true;
                }
            }
            if (allowFromNode) {
                // A node reaching a VIP-style load balancer it routes locally shows up with the
                // VIP as source; let that through too.
                for (String ip : p.svc.loadBalancerIPs()) {
                    natRule(fw).append(" -m comment --comment \"").append(s).append(" loadbalancer IP\" -s ")
                            .append(ip).append(" -j ").append(p.extChain).append('\n');
                }
            }
            // Whatever falls through was not DNATed; KUBE-PROXY-FIREWALL drops it in filter.
            natRule(fw).append(" -m comment --comment \"other traffic to ").append(s)
                    .append(" will be dropped by KUBE-PROXY-FIREWALL\"\n");
        }

        if (p.usesClusterChain) {
            declareNat(p.svcChain, chains);
            writeEndpointRules(p, p.svcChain, p.sel.clusterEndpoints(), oldSeps, seps);
        }
        if (p.usesLocalChain) {
            declareNat(p.svlChain, chains);
            writeEndpointRules(p, p.svlChain, p.sel.localEndpoints(), oldSeps, seps);
        }
        for (Endpoint ep : p.sel.allReachable()) {
            String hostPort = ep.hostPort();
            String sep = sepName(name, hostPort, oldSeps, seps);
            declareNat(sep, chains);
            // Hairpin: an endpoint reaching itself through the service must be masqueraded.
            natRule(sep).append(" -m comment --comment ").append(s).append(" -s ").append(ep.ip())
                    .append(" -j ").append(KUBE_MARK_MASQ).append('\n');
            StringBuilder b = natRule(sep).append(" -m comment --comment ").append(s);
            if (p.svc.sessionAffinity()) {
                b.append(" -m recent --name ").append(sep).append(" --set");
            }
            b.append(p.protoMatch).append(" -j DNAT --to-destination ").append(hostPort).append('\n');
        }
        return new ServiceChains(chains, natRuleCount - rulesBefore);
    }

    /** The tail call into KUBE-NODEPORTS: after every other rule of nat KUBE-SERVICES. */
    private void writeNodePortsJump(NodeInfo node) {
        if (options.nodePortsMatchAll()) {
            StringBuilder b = natRule(KUBE_SERVICES).append(" -m comment --comment ").append(NODEPORTS_COMMENT)
                    .append(" -m addrtype --dst-type LOCAL");
            // Localhost NodePorts never work on IPv6, and on IPv4 only with route_localnet.
            if (family == IpFamily.IPv6) {
                b.append(" ! -d ::1/128");
            } else if (!options.localhostNodePorts()) {
                b.append(" ! -d 127.0.0.0/8");
            }
            b.append(" -j ").append(KUBE_NODEPORTS).append('\n');
            return;
        }
        for (String ip : nodePortIPs(node)) {
            boolean loopback = IpAddresses.cidrContains(loopbackNet, ip);
            if (loopback && (family == IpFamily.IPv6 || !options.localhostNodePorts())) {
                continue;
            }
            natRule(KUBE_SERVICES).append(" -m comment --comment ").append(NODEPORTS_COMMENT).append(" -d ")
                    .append(ip).append(" -j ").append(KUBE_NODEPORTS).append('\n');
        }
    }

    /**
     * The node's addresses nodePortAddresses selects: node IPs inside a CIDR, the primary IP for
     * "primary", and the loopback address when a CIDR holds it (every host has it on lo).
     */
    List<String> nodePortIPs(NodeInfo node) {
        Set<String> ips = new LinkedHashSet<>();
        String loopbackIP = family == IpFamily.IPv4 ? "127.0.0.1" : "::1";
        List<String> candidates = new ArrayList<>();
        candidates.add(loopbackIP);
        candidates.addAll(node.addresses(family));
        for (String ip : candidates) {
            for (String cidr : options.nodePortCidrs()) {
                if (IpAddresses.cidrContains(cidr, ip)) {
                    ips.add(ip);
                    break;
                }
            }
        }
        if (options.nodePortPrimary() && !node.addresses(family).isEmpty()) {
            ips.add(node.addresses(family).get(0));
        }
        return new ArrayList<>(ips);
    }

    private void writeEndpointRules(Plan p, String chain, List<Endpoint> endpoints, Map<String, String> oldSeps,
                                    Map<String, String> seps) {
        String s = p.s;
        if (p.svc.sessionAffinity()) {
            for (Endpoint ep : endpoints) {
                String hostPort = ep.hostPort();
                String sep = sepName(p.name, hostPort, oldSeps, seps);
                natRule(chain).append(" -m comment --comment \"").append(s).append(" -> ").append(hostPort)
                        .append("\" -m recent --name ").append(sep).append(" --rcheck --seconds ")
                        .append(p.svc.affinityTimeoutSeconds()).append(" --reap -j ").append(sep).append('\n');
            }
        }
        int n = endpoints.size();
        for (int i = 0; i < n; i++) {
            Endpoint ep = endpoints.get(i);
            String hostPort = ep.hostPort();
            String sep = sepName(p.name, hostPort, oldSeps, seps);
            StringBuilder b = natRule(chain).append(" -m comment --comment \"").append(s).append(" -> ")
                    .append(hostPort).append('"');
            if (i < n - 1) {
                // Rule i takes 1/(n-i) of what the rules before it left: uniform overall.
                b.append(" -m statistic --mode random --probability ").append(Probabilities.of(n - i));
            }
            b.append(" -j ").append(sep).append('\n');
        }
    }

    private String sepName(ServicePortName name, String hostPort, Map<String, String> oldSeps,
                           Map<String, String> seps) {
        String sep = seps.get(hostPort);
        if (sep == null) {
            sep = oldSeps == null ? null : oldSeps.get(hostPort);
            if (sep == null) {
                if (hashInputOf != name) {
                    hashInputOf = name;
                    hashInput = ChainNames.hashInput(name);
                }
                sep = ChainNames.ENDPOINT_PREFIX + ChainNames.endpointHash(hashInput, hostPort);
            }
            seps.put(hostPort, sep);
        }
        return sep;
    }

    /**
     * Appends the restore text of the last render to {@code out}: each table's chain
     * declarations, rules, the caller's extras, then the deletion of {@code deletedNatChains}
     * (declared first, which flushes them, as iptables requires before -X).
     */
    public void writePayload(StringBuilder out, Extra filterExtra, Extra natExtra, Collection<String> deletedNatChains) {
        out.append("*filter\n").append(filterChains);
        for (String line : filterExtra.chainLines()) {
            out.append(line).append('\n');
        }
        out.append(filterRules);
        for (String line : filterExtra.ruleLines()) {
            out.append(line).append('\n');
        }
        out.append("COMMIT\n*nat\n").append(natChains);
        for (String line : natExtra.chainLines()) {
            out.append(line).append('\n');
        }
        for (String chain : deletedNatChains) {
            chainLine(out, chain);
        }
        out.append(natRules);
        for (String line : natExtra.ruleLines()) {
            out.append(line).append('\n');
        }
        for (String chain : deletedNatChains) {
            out.append("-X ").append(chain).append('\n');
        }
        out.append("COMMIT\n");
    }

    /** The restore text of the last render, without extras. */
    public String payload() {
        StringBuilder out = new StringBuilder(filterChains.length() + filterRules.length() + natChains.length()
                + natRules.length() + 64);
        writePayload(out, Extra.NONE, Extra.NONE, List.of());
        return out.toString();
    }

    /** {ifLocal, ifNotLocal} match text of the local-traffic detector, null when none applies. */
    private String[] localDetector(NodeInfo node) {
        switch (options.detectLocalMode()) {
            case "ClusterCIDR":
                return options.clusterCidr() == null ? null
                        : new String[] {"-s " + options.clusterCidr(), "! -s " + options.clusterCidr()};
            case "NodeCIDR":
                for (String cidr : node.podCIDRs()) {
                    if (IpAddresses.familyOf(cidr) == family) {
                        return new String[] {"-s " + cidr, "! -s " + cidr};
                    }
                }
                return null;
            case "BridgeInterface":
                return options.bridgeInterface().isEmpty() ? null
                        : new String[] {"-i " + options.bridgeInterface(), "! -i " + options.bridgeInterface()};
            case "InterfaceNamePrefix":
                return options.interfaceNamePrefix().isEmpty() ? null
                        : new String[] {"-i " + options.interfaceNamePrefix() + "+",
                                "! -i " + options.interfaceNamePrefix() + "+"};
            default:
                return null;
        }
    }

    private static Selection select(List<Endpoint> endpoints, ServicePort svc, NodeInfo node) {
        return EndpointSelector.select(endpoints, svc, node, true);
    }

    /** Upstream serves a health-check node port only for LoadBalancer Services with externalTrafficPolicy Local. */
    private static int healthCheckNodePort(ServicePort svc) {
        return svc.type() == ServiceType.LOAD_BALANCER && svc.externalTrafficPolicy() == TrafficPolicy.LOCAL
                ? svc.healthCheckNodePort() : 0;
    }

    /** The service port with external IPs, load-balancer IPs and source ranges of this family only. */
    private ServicePort familyView(ServicePort svc) {
        List<String> ext = ofFamily(svc.externalIPs());
        List<String> lb = ofFamily(svc.loadBalancerIPs());
        List<String> ranges = ofFamily(svc.loadBalancerSourceRanges());
        if (ext == svc.externalIPs() && lb == svc.loadBalancerIPs() && ranges == svc.loadBalancerSourceRanges()) {
            return svc;
        }
        return new ServicePort(svc.name(), svc.type(), svc.clusterIPs(), svc.port(), svc.nodePort(), ext, lb, ranges,
                svc.affinityTimeoutSeconds(), svc.externalTrafficPolicy(), svc.internalTrafficPolicy(),
                svc.healthCheckNodePort(), svc.trafficDistribution());
    }

    /** The entries of this family; the same list when all are (the common case, no copy). */
    private List<String> ofFamily(List<String> ipsOrCidrs) {
        for (String a : ipsOrCidrs) {
            if (IpAddresses.familyOf(a) != family) {
                List<String> out = new ArrayList<>(ipsOrCidrs.size());
                for (String b : ipsOrCidrs) {
                    if (IpAddresses.familyOf(b) == family) {
                        out.add(b);
                    }
                }
                return out;
            }
        }
        return ipsOrCidrs;
    }

    private List<Endpoint> endpointsOfFamily(List<Endpoint> endpoints) {
        for (Endpoint ep : endpoints) {
            if (ep.family() != family) {
                List<Endpoint> out = new ArrayList<>(endpoints.size());
                for (Endpoint e : endpoints) {
                    if (e.family() == family) {
                        out.add(e);
                    }
                }
                return out;
            }
        }
        return endpoints;
    }

    private void declareNat(String chain, List<String> chains) {
        chainLine(natChains, chain);
        natChainCount++;
        chains.add(chain);
    }

    private static void chainLine(StringBuilder b, String chain) {
        b.append(':').append(chain).append(" - [0:0]\n");
    }

    private StringBuilder natRule(String chain) {
        natRuleCount++;
        return natRules.append("-A ").append(chain);
    }

    private StringBuilder filterRule(String chain) {
        filterRuleCount++;
        return filterRules.append("-A ").append(chain);
    }
}
