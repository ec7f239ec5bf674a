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
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Turns a {@link ProxyState} into upstream kube-proxy's iptables-restore input for one IP family:
 * the same chains, hashes, rule text, comments and order (reference §2). Pure: no I/O; the
 * only state kept between calls is reusable buffers and the node of the last render.
 *
 * <p>Two uses. {@link #render} renders everything (a full sync) into this renderer's buffers and
 * {@link #writePayload} assembles the restore text with whatever the caller adds (jump rules,
 * chain deletions). {@link #renderService} renders one service port into a caller's buffer and
 * {@link #writeTopChain} one top-level chain, which is what a partial sync needs to write only
 * the chains that changed. Not thread-safe: one renderer per family, used by one thread.
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
    /** The top-level chains this renderer writes, in declaration order (filter first). */
    private final List<TopChain> topChains;
    /** Fixed rules each top-level chain starts with, by ordinal: they depend on the options only. */
    private final String[] heads = new String[TopChain.COUNT];

    // Set by useNode: what the node contributes to every service's rules.
    private NodeInfo node;
    private String nodeIP;
    /** Local-traffic detector matches ("-s 10.0.0.0/8", "! -s 10.0.0.0/8"), null when none. */
    private String ifLocal;
    private String ifNotLocal;
    /** The rules nat KUBE-SERVICES ends with (the jump into KUBE-NODEPORTS). */
    private String servicesTail = "";

    // Reused between renders: a large state renders tens of megabytes, so growing fresh buffers
    // every sync would cost more than the rendering itself.
    private final StringBuilder filterChains = new StringBuilder(1 << 10);
    private final StringBuilder filterRules = new StringBuilder(1 << 12);
    private final StringBuilder natChains = new StringBuilder(1 << 12);
    private final StringBuilder natRules = new StringBuilder(1 << 12);
    private final StringBuilder natServiceRules = new StringBuilder(1 << 16);
    private final StringBuilder[] entryBuffers = new StringBuilder[TopChain.COUNT];
    /** The size the big buffers reached in the last full render. */
    private int lastNatChains;
    private int lastNatServiceRules;
    private final List<String> chainNames = new ArrayList<>();
    private final List<String> chainHostPorts = new ArrayList<>();
    private int[] spanBuffer = new int[32];
    private final Map<String, String> sepNames = new HashMap<>();
    /** The hash input of the service port whose endpoint chains are being named (one at a time). */
    private ServicePortName hashInputOf;
    private byte[] hashInput;

    public IptablesRenderer(RenderOptions options) {
        this.options = requireNonNull(options, "options");
        this.family = options.family();
        this.loopbackNet = family == IpFamily.IPv4 ? "127.0.0.0/8" : "::1/128";
        List<TopChain> chains = new ArrayList<>();
        for (TopChain c : TopChain.values()) {
            if (c != TopChain.FILTER_FIREWALL || options.localhostNodePorts()) {
                chains.add(c);
            }
            entryBuffers[c.ordinal()] = new StringBuilder(256);
        }
        this.topChains = List.copyOf(chains);
        writeHeads();
    }

    public RenderOptions options() {
        return options;
    }

    /** The top-level chains every full payload declares (and so flushes and rewrites) in {@code table}. */
    public Set<String> topLevelChains(String table) {
        Set<String> out = new LinkedHashSet<>();
        for (TopChain c : topChains) {
            if (c.table.equals(table)) {
                out.add(c.chain);
            }
        }
        return Collections.unmodifiableSet(out);
    }

    /** The top-level chains this renderer writes, filter's then nat's, in upstream's declaration order. */
    List<TopChain> topChains() {
        return topChains;
    }

    /**
     * What one full render wrote into the buffers.
     *
     * @param services every service port of this family, in rendering order, with its rules
     * @param top the digest of each top-level chain written
     * @param noLocalInternal service ports with internalTrafficPolicy Local and no local endpoints
     * @param noLocalExternal service ports with externalTrafficPolicy Local and no local endpoints
     */
    record Rendered(int filterChains, int filterRules, int natChains, int natRules,
                           SortedMap<ServicePortName, ServiceRules> services, Map<TopChain, ChainDigest> top,
                           int noLocalInternal, int noLocalExternal) {
        int servicePorts() {
            return services.size();
        }
    }

    /** Lines a caller adds to one table of the payload: chain declarations, rules, chains to delete. */
    record Extra(List<String> chainLines, List<String> ruleLines, List<String> deletedChains) {
        static final Extra NONE = new Extra(List.of(), List.of(), List.of());

        Extra {
            chainLines = List.copyOf(chainLines);
            ruleLines = List.copyOf(ruleLines);
            deletedChains = List.copyOf(deletedChains);
        }

        Extra withDeleted(List<String> chains) {
            return new Extra(chainLines, ruleLines, chains);
        }
    }

    /** The restore text of a full sync of {@code state}, without jump rules or deletions. */
    public String renderPayload(ProxyState state) {
        render(state);
        return payload();
    }

    /** Renders every chain of every service port (a full sync). */
    Rendered render(ProxyState state) {
        return render(state, name -> null);
    }

    /**
     * Renders every chain of every service port of this family into the buffers.
     *
     * @param previous the rules last rendered for a service port, or null: only used to reuse
     *        endpoint chain names instead of hashing them again
     */
    Rendered render(ProxyState state, Function<ServicePortName, ServiceRules> previous) {
        filterChains.setLength(0);
        filterRules.setLength(0);
        natChains.setLength(0);
        natRules.setLength(0);
        natServiceRules.setLength(0);
        // A released buffer is sized once from the last render, not grown by doubling (each step a copy).
        natChains.ensureCapacity(lastNatChains + (lastNatChains >> 3));
        natServiceRules.ensureCapacity(lastNatServiceRules + (lastNatServiceRules >> 3));
        useNode(state.node());

        int filterChainCount = 0;
        int natChainCount = 0;
        for (TopChain c : topChains) {
            chainLine(c.nat() ? natChains : filterChains, c.chain);
            if (c.nat()) {
                natChainCount++;
            } else {
                filterChainCount++;
            }
        }
        SortedMap<ServicePortName, ServiceRules> services = new TreeMap<>();
        int natServiceRuleCount = 0;
        int noLocalInternal = 0;
        int noLocalExternal = 0;
        for (ServicePort svc : state.sortedServices().values()) {
            ServicePortName name = svc.name();
            ServiceRules sr = renderService(svc, state.endpointsOf(name), previous.apply(name), natServiceRules);
            if (sr == null) {
                continue; // not a service of this family
            }
            services.put(name, sr);
            for (int i = 0; i < sr.chainCount(); i++) {
                chainLine(natChains, sr.chain(i));
            }
            natChainCount += sr.chainCount();
            natServiceRuleCount += sr.chainRules();
            noLocalInternal += sr.noLocalInternal ? 1 : 0;
            noLocalExternal += sr.noLocalExternal ? 1 : 0;
        }

        lastNatChains = natChains.length();
        lastNatServiceRules = natServiceRules.length();
        Map<TopChain, ChainDigest> top = new EnumMap<>(TopChain.class);
        int filterRuleCount = 0;
        int natRuleCount = natServiceRuleCount;
        for (TopChain c : topChains) {
            StringBuilder out = c.nat() ? natRules : filterRules;
            int start = out.length();
            writeTopChain(c, services.values(), out);
            ChainDigest d = ChainDigest.of(out, start, out.length());
            top.put(c, d);
            if (c.nat()) {
                natRuleCount += d.rules();
            } else {
                filterRuleCount += d.rules();
            }
        }
        return new Rendered(filterChainCount, filterRuleCount, natChainCount, natRuleCount,
                Collections.unmodifiableSortedMap(services), Collections.unmodifiableMap(top), noLocalInternal,
                noLocalExternal);
    }

    /**
     * Appends the restore text of the last {@link #render} to {@code out}: each table's chain
     * declarations, the declarations of the chains to delete (which flushes them, as iptables
     * requires before -X), the rules, the caller's rules, then the deletions.
     */
    void writePayload(StringBuilder out, Extra filterExtra, Extra natExtra) {
        writeTable(out, "filter", filterChains, filterExtra, filterRules, null);
        writeTable(out, "nat", natChains, natExtra, natRules, natServiceRules);
    }

    private static void writeTable(StringBuilder out, String table, StringBuilder chains, Extra extra,
                                   StringBuilder rules, StringBuilder moreRules) {
        out.append('*').append(table).append('\n').append(chains);
        for (String line : extra.chainLines()) {
            out.append(line).append('\n');
        }
        for (String chain : extra.deletedChains()) {
            chainLine(out, chain);
        }
        out.append(rules);
        if (moreRules != null) {
            out.append(moreRules);
        }
        for (String line : extra.ruleLines()) {
            out.append(line).append('\n');
        }
        for (String chain : extra.deletedChains()) {
            out.append("-X ").append(chain).append('\n');
        }
        out.append("COMMIT\n");
    }

    /** The restore text of the last render, without extras. */
    public String payload() {
        StringBuilder out = new StringBuilder(payloadLength() + 64);
        writePayload(out, Extra.NONE, Extra.NONE);
        return out.toString();
    }

    /**
     * Lets go of large render buffers. A full sync of a big cluster renders tens of megabytes,
     * and full syncs are rare (start, hourly, after a failure): holding that much between them
     * would cost more than growing it again. Small buffers are kept for reuse.
     */
    void releaseLargeBuffers() {
        for (StringBuilder b : List.of(filterChains, filterRules, natChains, natRules, natServiceRules)) {
            if (b.capacity() > LARGE_BUFFER) {
                b.setLength(0);
                b.trimToSize();
            }
        }
    }

    /** Above this many chars a buffer is released after use rather than kept ({@link #releaseLargeBuffers}). */
    static final int LARGE_BUFFER = 4 << 20;

    /** The length of the last render's restore text without extras: lets callers size a buffer once. */
    int payloadLength() {
        return filterChains.length() + filterRules.length() + natChains.length() + natRules.length()
                + natServiceRules.length() + 32;
    }

    /**
     * Takes the node's addresses, pod CIDRs and topology for the renders that follow. Rules
     * rendered for another node must not be mixed with these: a node change rewrites everything.
     */
    void useNode(NodeInfo node) {
        this.node = node;
        List<String> nodeIPs = node.addresses(family);
        nodeIP = nodeIPs.isEmpty() ? null : nodeIPs.get(0);
        String[] detector = localDetector(node);
        ifLocal = detector == null ? null : detector[0];
        ifNotLocal = detector == null ? null : detector[1];
        StringBuilder tail = new StringBuilder(256);
        writeNodePortsJump(node, tail);
        servicesTail = tail.toString();
    }

    /**
     * Appends top-level chain {@code c}'s rule lines: its fixed rules, each service port's rules
     * in the order given (upstream's: sorted by service port name), then its closing rules.
     */
    void writeTopChain(TopChain c, Collection<ServiceRules> services, StringBuilder out) {
        out.append(heads[c.ordinal()]);
        if (c.dispatch) {
            for (ServiceRules sr : services) {
                out.append(sr.entry(c));
            }
        }
        if (c == TopChain.NAT_SERVICES) {
            out.append(servicesTail);
        }
    }

    /**
     * Renders one service port: its rules in the dispatch chains, kept in the result, and the
     * rules of its own chains, appended to {@code out} chain by chain (the result holds where each
     * chain's lines are). Uses the node of the last {@link #useNode}.
     *
     * @param previous its rules as last rendered, or null: endpoint chain names are reused from it
     * @return null when the service port has no cluster IP of this family
     */
    ServiceRules renderService(ServicePort svc, List<Endpoint> endpoints, ServiceRules previous, StringBuilder out) {
        String clusterIP = svc.clusterIP(family);
        if (clusterIP == null) {
            return null;
        }
        ServicePortName name = svc.name();
        String hash = previous != null ? previous.hash : ChainNames.serviceHash(name);
        ServicePort view = svc.ofFamily(family);
        Plan plan = new Plan(view, clusterIP, hash, EndpointSelector.select(Endpoint.ofFamily(endpoints, family), view, node, true));

        for (StringBuilder b : entryBuffers) {
            b.setLength(0);
        }
        writeEntryRules(plan);
        String[] entries = new String[TopChain.COUNT];
        for (TopChain c : TopChain.DISPATCH) {
            StringBuilder b = entryBuffers[c.ordinal()];
            if (b.length() > 0) {
                entries[c.ordinal()] = b.toString();
            }
        }

        chainNames.clear();
        chainHostPorts.clear();
        sepNames.clear();
        writeServiceChains(plan, previous, out);
        int n = chainNames.size();
        ChainDigest[] digests = new ChainDigest[n];
        boolean affinity = plan.svc.sessionAffinity();
        for (int i = 0; i < n; i++) {
            digests[i] = chainHostPorts.get(i) != null
                    ? ChainDigest.ofEndpointChain(chainNames.get(i), affinity)
                    : ChainDigest.of(out, spanBuffer[2 * i], spanBuffer[2 * i + 1]);
        }
        // Endpoints exist, just none on this node for a Local policy.
        return new ServiceRules(name, hash, entries, chainNames.toArray(new String[0]),
                chainHostPorts.toArray(new String[0]), Arrays.copyOf(spanBuffer, 2 * n), digests,
                plan.hasEndpoints && !plan.hasInternalEndpoints, plan.hasEndpoints && !plan.hasExternalEndpoints);
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

    /** Fixed rules of the top-level chains: masquerading, the localnet block, forwarding. */
    private void writeHeads() {
        Arrays.fill(heads, "");
        String mark = options.masqueradeMark();
        StringBuilder b = new StringBuilder(512);
        rule(b, KUBE_POSTROUTING).append(" -m mark ! --mark ").append(mark).append('/').append(mark)
                .append(" -j RETURN\n");
        // Clear the mark so a packet that traverses the stack again is not masqueraded twice.
        rule(b, KUBE_POSTROUTING).append(" -j MARK --xor-mark ").append(mark).append('\n');
        rule(b, KUBE_POSTROUTING).append(" -m comment --comment \"kubernetes service traffic requiring SNAT\"")
                .append(" -j MASQUERADE").append(options.randomFully() ? " --random-fully\n" : "\n");
        heads[TopChain.NAT_POSTROUTING.ordinal()] = take(b);
        rule(b, KUBE_MARK_MASQ).append(" -j MARK --or-mark ").append(mark).append('\n');
        heads[TopChain.NAT_MARK_MASQ.ordinal()] = take(b);
        if (options.localhostNodePorts()) {
            // route_localnet opens NodePorts on 127.0.0.0/8 to the network (CVE-2020-8558);
            // kubelet writes the identical rule.
            rule(b, KUBE_FIREWALL).append(" -m comment --comment \"block incoming localnet connections\"")
                    .append(" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT")
                    .append(" -j DROP\n");
            heads[TopChain.FILTER_FIREWALL.ordinal()] = take(b);
        }
        if (options.dropInvalid()) {
            // Packets conntrack finds INVALID would otherwise reach pods un-NATed and be reset.
            rule(b, KUBE_FORWARD).append(" -m conntrack --ctstate INVALID");
            if (options.nfacct()) {
                b.append(" -m nfacct --nfacct-name ").append(INVALID_DROPPED_COUNTER);
            }
            b.append(" -j DROP\n");
        }
        // Marked traffic is service traffic: forward it even when the FORWARD policy is DROP.
        rule(b, KUBE_FORWARD).append(" -m comment --comment \"kubernetes forwarding rules\" -m mark --mark ")
                .append(mark).append('/').append(mark).append(" -j ACCEPT\n");
        rule(b, KUBE_FORWARD).append(" -m comment --comment \"kubernetes forwarding conntrack rule\"")
                .append(" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
        heads[TopChain.FILTER_FORWARD.ordinal()] = take(b);
    }

    private static String take(StringBuilder b) {
        String s = b.toString();
        b.setLength(0);
        return s;
    }

    /**
     * The service port's rules in the dispatch chains, which lead into its own chains (nat
     * KUBE-SERVICES, KUBE-NODEPORTS) or turn its traffic away (filter).
     */
    private void writeEntryRules(Plan p) {
        String s = p.s;
        String protoMatch = p.protoMatch;
        int port = p.port;
        if (p.hasInternalEndpoints) {
            entry(TopChain.NAT_SERVICES).append(" -m comment --comment \"").append(s).append(" cluster IP\"")
                    .append(protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(port)
                    .append(" -j ").append(p.internalChain).append('\n');
        } else {
            entry(TopChain.FILTER_SERVICES).append(" -m comment --comment ").append(p.internalComment)
                    .append(protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(port)
                    .append(" -j ").append(p.internalTarget).append('\n');
        }

        for (String ip : p.svc.externalIPs()) {
            if (p.hasEndpoints) {
                entry(TopChain.NAT_SERVICES).append(" -m comment --comment \"").append(s).append(" external IP\"")
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.extChain).append('\n');
            }
            if (!p.hasExternalEndpoints) {
                entry(TopChain.FILTER_EXTERNAL_SERVICES).append(" -m comment --comment ").append(p.externalComment)
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.externalTarget).append('\n');
            }
        }

        List<String> lbIPs = p.svc.loadBalancerIPs();
        for (String ip : lbIPs) {
            if (p.hasEndpoints) {
                entry(TopChain.NAT_SERVICES).append(" -m comment --comment \"").append(s).append(" loadbalancer IP\"")
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.lbChain).append('\n');
            }
            if (p.usesFwChain) {
                entry(TopChain.FILTER_PROXY_FIREWALL).append(" -m comment --comment \"").append(s)
                        .append(" traffic not accepted by ").append(p.fwChain).append('"')
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j DROP\n");
            }
        }
        if (!p.hasExternalEndpoints) {
            for (String ip : lbIPs) {
                entry(TopChain.FILTER_EXTERNAL_SERVICES).append(" -m comment --comment ").append(p.externalComment)
                        .append(protoMatch).append(" -d ").append(ip).append(" --dport ").append(port)
                        .append(" -j ").append(p.externalTarget).append('\n');
            }
        }

        // NodePorts are not subject to loadBalancerSourceRanges, as upstream.
        int nodePort = p.svc.nodePort();
        if (nodePort != 0) {
            if (p.hasEndpoints) {
                if (options.localhostNodePorts() && options.nfacct()) {
                    entry(TopChain.NAT_NODEPORTS).append(" -m comment --comment ").append(s).append(protoMatch)
                            .append(" -d 127.0.0.0/8 --dport ").append(nodePort)
                            .append(" -m nfacct --nfacct-name ").append(LOCALHOST_NODEPORTS_COUNTER)
                            .append(" -j ").append(p.extChain).append('\n');
                }
                entry(TopChain.NAT_NODEPORTS).append(" -m comment --comment ").append(s).append(protoMatch)
                        .append(" --dport ").append(nodePort).append(" -j ").append(p.extChain).append('\n');
            }
            if (!p.hasExternalEndpoints) {
                entry(TopChain.FILTER_EXTERNAL_SERVICES).append(" -m comment --comment ").append(p.externalComment)
                        .append(" -m addrtype --dst-type LOCAL").append(protoMatch)
                        .append(" --dport ").append(nodePort).append(" -j ").append(p.externalTarget).append('\n');
            }
        }

        // The health-check node port is accepted whether or not there are local endpoints.
        int hcnp = healthCheckNodePort(p.svc);
        if (hcnp != 0) {
            entry(TopChain.FILTER_NODEPORTS).append(" -m comment --comment \"").append(s)
                    .append(" health check node port\" -m tcp -p tcp --dport ").append(hcnp).append(" -j ACCEPT\n");
        }
    }

    /**
     * The service port's own chains, each one's rules together: EXT, FW, SVC, SVL, then one SEP
     * per reachable endpoint.
     */
    private void writeServiceChains(Plan p, ServiceRules previous, StringBuilder out) {
        String s = p.s;
        if (p.usesExtChain) {
            String ext = p.extChain;
            begin(ext, null, out);
            if (!p.externalLocal) {
                // Endpoints may be on other nodes: masquerade so replies come back through here.
                rule(out, ext).append(" -m comment --comment \"masquerade traffic for ").append(s)
                        .append(" external destinations\" -j ").append(KUBE_MARK_MASQ).append('\n');
            } else {
                if (ifLocal != null) {
                    // Pod traffic to an external address behaves as if it left and came back
                    // through a load balancer: no traffic policy applies.
                    rule(out, ext).append(" -m comment --comment \"pod traffic for ").append(s)
                            .append(" external destinations\" ").append(ifLocal).append(" -j ").append(p.svcChain)
                            .append('\n');
                }
                // The host's own traffic gets a local address as source, so it needs masquerade.
                rule(out, ext).append(" -m comment --comment \"masquerade LOCAL traffic for ").append(s)
                        .append(" external destinations\" -m addrtype --src-type LOCAL -j ").append(KUBE_MARK_MASQ)
                        .append('\n');
                rule(out, ext).append(" -m comment --comment \"route LOCAL traffic for ").append(s)
                        .append(" external destinations\" -m addrtype --src-type LOCAL -j ").append(p.svcChain)
                        .append('\n');
            }
            if (p.hasExternalEndpoints) {
                rule(out, ext).append(" -j ").append(p.externalPolicyChain).append('\n');
            }
            end(out);
        }

        if (p.usesFwChain) {
            String fw = p.fwChain;
            begin(fw, null, out);
            boolean allowFromNode = false;
            for (String cidr : p.svc.loadBalancerSourceRanges()) {
                rule(out, fw).append(" -m comment --comment \"").append(s).append(" loadbalancer IP\" -s ")
                        .append(cidr).append(" -j ").append(p.extChain).append('\n');
                if (nodeIP != null && IpAddresses.cidrContains(cidr, nodeIP)) {
                    allowFromNode = true;
                }
            }
            if (allowFromNode) {
                // A node reaching a VIP-style load balancer it routes locally shows up with the
                // VIP as source; let that through too.
                for (String ip : p.svc.loadBalancerIPs()) {
                    rule(out, fw).append(" -m comment --comment \"").append(s).append(" loadbalancer IP\" -s ")
                            .append(ip).append(" -j ").append(p.extChain).append('\n');
                }
            }
            // Whatever falls through was not DNATed; KUBE-PROXY-FIREWALL drops it in filter.
            rule(out, fw).append(" -m comment --comment \"other traffic to ").append(s)
                    .append(" will be dropped by KUBE-PROXY-FIREWALL\"\n");
            end(out);
        }

        if (p.usesClusterChain) {
            begin(p.svcChain, null, out);
            writeClusterIpMasquerade(p, p.svcChain, out);
            writeEndpointRules(p, p.svcChain, p.sel.clusterEndpoints(), previous, out);
            end(out);
        }
        if (p.usesLocalChain) {
            begin(p.svlChain, null, out);
            writeClusterIpMasquerade(p, p.svlChain, out);
            writeEndpointRules(p, p.svlChain, p.sel.localEndpoints(), previous, out);
            end(out);
        }
        for (Endpoint ep : p.sel.allReachable()) {
            String hostPort = ep.hostPort();
            String sep = sepName(p.name, hostPort, previous);
            begin(sep, hostPort, out);
            // Hairpin: an endpoint reaching itself through the service must be masqueraded.
            rule(out, sep).append(" -m comment --comment ").append(s).append(" -s ").append(ep.ip())
                    .append(" -j ").append(KUBE_MARK_MASQ).append('\n');
            StringBuilder b = rule(out, sep).append(" -m comment --comment ").append(s);
            if (p.svc.sessionAffinity()) {
                b.append(" -m recent --name ").append(sep).append(" --set");
            }
            b.append(p.protoMatch).append(" -j DNAT --to-destination ").append(hostPort).append('\n');
            end(out);
        }
    }

    /** The first rule of the chain internal traffic goes to (SVC, or SVL for internalTrafficPolicy Local). */
    private void writeClusterIpMasquerade(Plan p, String chain, StringBuilder out) {
        if (!p.hasInternalEndpoints || !chain.equals(p.internalChain)) {
            return;
        }
        if (options.masqueradeAll()) {
            rule(out, chain).append(" -m comment --comment \"").append(p.s).append(" cluster IP\"")
                    .append(p.protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(p.port)
                    .append(" -j ").append(KUBE_MARK_MASQ).append('\n');
        } else if (ifNotLocal != null) {
            // Masquerade off-cluster traffic to the ClusterIP: it may have been routed here from
            // another node and must return the same way.
            rule(out, chain).append(" -m comment --comment \"").append(p.s).append(" cluster IP\"")
                    .append(p.protoMatch).append(" -d ").append(p.clusterIP).append(" --dport ").append(p.port)
                    .append(' ').append(ifNotLocal).append(" -j ").append(KUBE_MARK_MASQ).append('\n');
        }
    }

    /** Starts chain {@code name}'s lines in {@code out}. */
    private void begin(String name, String hostPort, StringBuilder out) {
        int i = chainNames.size();
        if (spanBuffer.length < 2 * i + 2) {
            spanBuffer = Arrays.copyOf(spanBuffer, spanBuffer.length * 2);
        }
        chainNames.add(name);
        chainHostPorts.add(hostPort);
        spanBuffer[2 * i] = out.length();
    }

    private void end(StringBuilder out) {
        spanBuffer[2 * chainNames.size() - 1] = out.length();
    }

    /** The tail call into KUBE-NODEPORTS: after every other rule of nat KUBE-SERVICES. */
    private void writeNodePortsJump(NodeInfo node, StringBuilder out) {
        if (options.nodePortsMatchAll()) {
            StringBuilder b = rule(out, KUBE_SERVICES).append(" -m comment --comment ").append(NODEPORTS_COMMENT)
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
            rule(out, KUBE_SERVICES).append(" -m comment --comment ").append(NODEPORTS_COMMENT).append(" -d ")
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

    private void writeEndpointRules(Plan p, String chain, List<Endpoint> endpoints, ServiceRules previous,
                                    StringBuilder out) {
        String s = p.s;
        if (p.svc.sessionAffinity()) {
            for (Endpoint ep : endpoints) {
                String hostPort = ep.hostPort();
                String sep = sepName(p.name, hostPort, previous);
                rule(out, chain).append(" -m comment --comment \"").append(s).append(" -> ").append(hostPort)
                        .append("\" -m recent --name ").append(sep).append(" --rcheck --seconds ")
                        .append(p.svc.affinityTimeoutSeconds()).append(" --reap -j ").append(sep).append('\n');
            }
        }
        int n = endpoints.size();
        for (int i = 0; i < n; i++) {
            Endpoint ep = endpoints.get(i);
            String hostPort = ep.hostPort();
            String sep = sepName(p.name, hostPort, previous);
            StringBuilder b = rule(out, chain).append(" -m comment --comment \"").append(s).append(" -> ")
                    .append(hostPort).append('"');
            if (i < n - 1) {
                // Rule i takes 1/(n-i) of what the rules before it left: uniform overall.
                b.append(" -m statistic --mode random --probability ").append(Probabilities.of(n - i));
            }
            b.append(" -j ").append(sep).append('\n');
        }
    }

    /** The endpoint's chain name: from this render, else the previous one, else hashed. */
    private String sepName(ServicePortName name, String hostPort, ServiceRules previous) {
        String sep = sepNames.get(hostPort);
        if (sep == null) {
            sep = previous == null ? null : previous.sepFor(hostPort);
            if (sep == null) {
                if (hashInputOf != name) {
                    hashInputOf = name;
                    hashInput = ChainNames.hashInput(name);
                }
                sep = ChainNames.ENDPOINT_PREFIX + ChainNames.endpointHash(hashInput, hostPort);
            }
            sepNames.put(hostPort, sep);
        }
        return sep;
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

    /** Upstream serves a health-check node port only for LoadBalancer Services with externalTrafficPolicy Local. */
    private static int healthCheckNodePort(ServicePort svc) {
        return svc.type() == ServiceType.LOAD_BALANCER && svc.externalTrafficPolicy() == TrafficPolicy.LOCAL
                ? svc.healthCheckNodePort() : 0;
    }

    static void chainLine(StringBuilder b, String chain) {
        b.append(':').append(chain).append(" - [0:0]\n");
    }

    private static StringBuilder rule(StringBuilder out, String chain) {
        return out.append("-A ").append(chain);
    }

    private StringBuilder entry(TopChain c) {
        return rule(entryBuffers[c.ordinal()], c.chain);
    }
}
