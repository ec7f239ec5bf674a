package io.pointsman.daemon;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * Generates Services and EndpointSlices with wrong, extreme and hostile values, each with the
 * outcome Pointsman must reach: programmed, programmed with a warning about a dropped value, or
 * skipped with one log line. Deterministic for a seed.
 */
final class HostileObjects {
    enum Outcome {
        /** Programmed, nothing to say. */
        PROGRAMMED,
        /** Programmed; a bad value (an external IP, a source range) dropped with a warning. */
        WARNED,
        /** Not programmed; one warning names it. */
        SKIPPED
    }

    /** One generated Service and what must become of it. */
    record ServiceCase(int index, Service service, Outcome outcome, String mutation, List<PortCase> ports) {
        String key() {
            return service.getMetadata().getNamespace() + "/" + service.getMetadata().getName();
        }
    }

    /** A port of a Service meant to be programmed. */
    record PortCase(String name, String protocol, int port, String clusterIp) {
    }

    /** One generated EndpointSlice and what must become of it. */
    record SliceCase(int index, EndpointSlice slice, String serviceKey, Outcome outcome, String mutation) {
        String key() {
            return slice.getMetadata().getNamespace() + "/" + slice.getMetadata().getName();
        }
    }

    private record Mutation<T>(String name, Outcome outcome, UnaryOperator<T> apply) {
    }

    /** Strings that must never reach a restore payload or a log line unescaped. */
    static final List<String> HOSTILE_NAMES = List.of("web\"-j ACCEPT", "web\n-A KUBE-SERVICES -j ACCEPT", "$(reboot)",
            "`id`", "a;b|c&d", "x' -j DROP #", "name with spaces", "UPPER", "-leading-dash", "a".repeat(64),
            "tab\there", "nul\u0000byte", "esc\u001b[31mred", "dot.ted", "unicodé", "");
    private static final List<String> BAD_IPS = List.of("10.96.300.1", "10.96.0.1; iptables -F", "fe80::1%eth0",
            " 10.96.0.1", "0x0a.0.0.1", "10.96.0", "::ffff:zz", "1e100.0.0.1", "10.96.0.1\n-A INPUT -j DROP",
            "256.256.256.256", "1.2.3.4.5", "::1::2", "localhost", "\"10.96.0.1\"");
    private static final List<String> BAD_PROTOCOLS = List.of("ICMP", "tcp", "HTTP", "TCP\n", "TCP UDP", "SCTP;");
    private static final String BIG = "x".repeat(1 << 20);

    private final Random random;
    private final String nodeName;
    private long resourceVersion = 1;
    private int bigAnnotations;

    HostileObjects(long seed, String nodeName) {
        this.random = new Random(seed);
        this.nodeName = nodeName;
    }

    /** The Service number {@code i} with its slices; {@code hostile}: the chance of a mutation. */
    record Generated(ServiceCase service, List<SliceCase> slices) {
    }

    Generated generate(int i, double hostile, boolean hugeSlice) {
        String ns = "ns-" + (i % 10);
        String name = "svc-" + i;
        boolean ipv6Only = i % 97 == 13;
        boolean dual = !ipv6Only && i % 41 == 7;
        String v4 = "10.96." + (i / 250) + "." + (i % 250 + 1);
        String v6 = "fd00:96::" + Integer.toHexString(i + 1);
        List<String> ips = ipv6Only ? List.of(v6) : dual ? List.of(v4, v6) : List.of(v4);
        int portCount = 1 + random.nextInt(3);
        List<ServicePort> ports = new ArrayList<>();
        List<PortCase> portCases = new ArrayList<>();
        for (int p = 0; p < portCount; p++) {
            String protocol = p == 2 && i % 5 == 0 ? "SCTP" : random.nextInt(3) == 0 ? "UDP" : "TCP";
            int port = 80 + p * 1000 + random.nextInt(100);
            ports.add(new ServicePortBuilder().withName("p" + p).withProtocol(protocol).withPort(port)
                    .withTargetPort(new IntOrString(8080 + p)).build());
            for (String ip : ips) {
                portCases.add(new PortCase("p" + p, protocol, port, ip));
            }
        }
        String type = random.nextInt(6) == 0 ? "NodePort" : "ClusterIP";
        if (type.equals("NodePort")) {
            for (int p = 0; p < ports.size(); p++) {
                ports.set(p, new ServicePortBuilder(ports.get(p)).withNodePort(30000 + (i * 3 + p) % 2700).build());
            }
        }
        Service base = new ServiceBuilder()
                .withNewMetadata().withNamespace(ns).withName(name).withResourceVersion(nextVersion()).endMetadata()
                .withNewSpec().withType(type).withClusterIP(ips.get(0)).withClusterIPs(ips)
                .withIpFamilies(ips.stream().map(ip -> ip.contains(":") ? "IPv6" : "IPv4").toList())
                .withIpFamilyPolicy(ips.size() > 1 ? "RequireDualStack" : "SingleStack")
                .withSessionAffinity("None").withInternalTrafficPolicy("Cluster")
                .withExternalTrafficPolicy(type.equals("NodePort") ? "Cluster" : null)
                .withPorts(ports).endSpec().build();

        Mutation<Service> m = random.nextDouble() < hostile ? pick(serviceMutations(v4)) : null;
        Service service = m == null ? base : m.apply().apply(new ServiceBuilder(base).build());
        Outcome outcome = m == null ? Outcome.PROGRAMMED : m.outcome();
        ServiceCase sc = new ServiceCase(i, service, outcome, m == null ? "none" : m.name(),
                outcome == Outcome.SKIPPED ? List.of() : portCases);

        List<SliceCase> slices = new ArrayList<>();
        int sliceCount = random.nextInt(10) == 0 ? 2 : 1;
        String serviceKey = ns + "/" + name;
        for (int s = 0; s < sliceCount; s++) {
            for (String family : ipv6Only ? List.of("IPv6") : dual ? List.of("IPv4", "IPv6") : List.of("IPv4")) {
                int endpoints = hugeSlice && s == 0 && family.equals("IPv4") ? 10_000 : 1 + random.nextInt(4);
                EndpointSlice slice = slice(ns, name, name + "-" + family.toLowerCase() + "-" + s, family, ports,
                        endpoints, i * 16 + s * 4);
                Mutation<EndpointSlice> sm = random.nextDouble() < hostile / 2 && endpoints < 100
                        ? pick(sliceMutations()) : null;
                slices.add(new SliceCase(i, sm == null ? slice : sm.apply().apply(new EndpointSliceBuilder(slice).build()),
                        serviceKey, sm == null ? Outcome.PROGRAMMED : sm.outcome(), sm == null ? "none" : sm.name()));
            }
        }
        return new Generated(sc, slices);
    }

    private EndpointSlice slice(String ns, String service, String name, String family, List<ServicePort> ports,
                                int count, int base) {
        List<Endpoint> endpoints = new ArrayList<>(count);
        for (int e = 0; e < count; e++) {
            int n = base + e;
            String ip = family.equals("IPv4") ? "10.244." + (n / 250 % 250) + "." + (n % 250 + 1)
                    : "fd00:244::" + Integer.toHexString(n + 1);
            endpoints.add(new EndpointBuilder().withAddresses(ip)
                    .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
                    .withNodeName(e % 2 == 0 ? nodeName : "node-" + (e % 7)).build());
        }
        List<EndpointPort> endpointPorts = ports.stream().map(p -> new EndpointPortBuilder().withName(p.getName())
                .withProtocol(p.getProtocol()).withPort(p.getTargetPort().getIntVal()).build()).toList();
        return new EndpointSliceBuilder()
                .withNewMetadata().withNamespace(ns).withName(name).withResourceVersion(nextVersion())
                .addToLabels("kubernetes.io/service-name", service)
                .addToLabels("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io").endMetadata()
                .withAddressType(family).withEndpoints(endpoints).withPorts(endpointPorts).build();
    }

    private String nextVersion() {
        return Long.toString(resourceVersion++);
    }

    private <T> T pick(List<T> list) {
        return list.get(random.nextInt(list.size()));
    }

    private String hostileName() {
        return pick(HOSTILE_NAMES);
    }

    private List<Mutation<Service>> serviceMutations(String v4) {
        Outcome skip = Outcome.SKIPPED;
        return List.of(
                new Mutation<>("invalid clusterIP", skip, s -> {
                    String ip = random.nextInt(8) == 0 ? BIG.substring(0, 100_000) : pick(BAD_IPS);
                    return edit(s, b -> b.editSpec().withClusterIP(ip).withClusterIPs(ip).endSpec());
                }),
                new Mutation<>("two IPv4 clusterIPs", skip,
                        s -> edit(s, b -> b.editSpec().withClusterIPs(v4, "10.97.0." + (1 + random.nextInt(200))).endSpec())),
                new Mutation<>("clusterIP differs from clusterIPs[0]", skip,
                        s -> edit(s, b -> b.editSpec().withClusterIP("10.98.0." + (1 + random.nextInt(200))).endSpec())),
                new Mutation<>("port 0/70000/-1/missing", skip, s -> port(s, p -> p.withPort(
                        pick(java.util.Arrays.asList(0, 70000, -1, null))))),
                new Mutation<>("nodePort 70000/-1", skip, s -> edit(port(s, p -> p.withNodePort(
                        random.nextBoolean() ? 70000 : -1)), b -> b.editSpec().withType("NodePort")
                        .withExternalTrafficPolicy("Cluster").endSpec())),
                new Mutation<>("duplicate port names", skip, s -> edit(s, b -> b.editSpec()
                        .addToPorts(new ServicePortBuilder(s.getSpec().getPorts().get(0)).withPort(9999).build()).endSpec())),
                new Mutation<>("unknown protocol", skip, s -> port(s, p -> p.withProtocol(pick(BAD_PROTOCOLS)))),
                new Mutation<>("unknown type", skip, s -> edit(s, b -> b.editSpec().withType("Bogus\"").endSpec())),
                new Mutation<>("bad session affinity", skip, s -> edit(s, b -> random.nextBoolean()
                        ? b.editSpec().withSessionAffinity("Sticky").endSpec()
                        : b.editSpec().withSessionAffinity("ClientIP").withNewSessionAffinityConfig().withNewClientIP()
                        .withTimeoutSeconds(random.nextBoolean() ? 0 : 100_000).endClientIP().endSessionAffinityConfig()
                        .endSpec())),
                new Mutation<>("unknown traffic policy", skip, s -> edit(s, b -> b.editSpec()
                        .withInternalTrafficPolicy("Nowhere").endSpec())),
                new Mutation<>("hostile service name", skip, s -> edit(s, b -> b.editMetadata()
                        .withName(nonEmpty(hostileName())).endMetadata())),
                new Mutation<>("hostile namespace", skip, s -> edit(s, b -> b.editMetadata()
                        .withNamespace(nonEmpty(hostileName())).endMetadata())),
                new Mutation<>("hostile port name", skip, s -> port(s, p -> p.withName(nonEmpty(hostileName())))),
                new Mutation<>("missing name", skip, s -> edit(s, b -> b.editMetadata().withName(null).endMetadata())),
                new Mutation<>("invalid external IPs", Outcome.WARNED, s -> edit(s, b -> b.editSpec()
                        .withExternalIPs("1.2.3.999", "bogus; reboot", "203.0.113.7").endSpec())),
                new Mutation<>("LoadBalancer with bad source range and ingress", Outcome.WARNED, s -> edit(s, b -> b.editSpec()
                        .withType("LoadBalancer").withExternalTrafficPolicy("Cluster")
                        .withLoadBalancerSourceRanges("203.0.113.0/24", "10.0.0.0/33", "x\"y").endSpec()
                        .withNewStatus().withNewLoadBalancer().addNewIngress().withIp("198.51.100.999").endIngress()
                        .addNewIngress().withIp("198.51.100.9").endIngress().endLoadBalancer().endStatus())),
                new Mutation<>("huge annotation", Outcome.PROGRAMMED, s -> edit(s, b -> b.editMetadata()
                        .addToAnnotations("note", bigAnnotations++ < 12 ? BIG : BIG.substring(0, 10_000))
                        .addToAnnotations("quote\"key", "value with \"quotes\"\nand a newline; $(reboot)")
                        .endMetadata())),
                new Mutation<>("hostile labels", Outcome.PROGRAMMED, s -> edit(s, b -> b.editMetadata()
                        .addToLabels("app", "a\"b\nc").endMetadata())),
                new Mutation<>("duplicate port numbers", Outcome.PROGRAMMED, s -> edit(s, b -> b.editSpec()
                        .addToPorts(new ServicePortBuilder(s.getSpec().getPorts().get(0)).withName("dup").build()).endSpec())));
    }

    private List<Mutation<EndpointSlice>> sliceMutations() {
        Outcome skip = Outcome.SKIPPED;
        return List.of(
                new Mutation<>("invalid address", skip, s -> endpoint(s, e -> e.withAddresses(pick(List.of(
                        "10.244.999.1", "10.244.1.1 -j ACCEPT", "", "10.244.1.1\n-A INPUT -j DROP", "fe80::1%eth0"))))),
                new Mutation<>("address of the other family", skip, s -> endpoint(s, e -> e.withAddresses(
                        s.getAddressType().equals("IPv4") ? "fd00::1" : "10.244.0.1"))),
                new Mutation<>("no addresses", skip, s -> endpoint(s, e -> e.withAddresses(List.of()))),
                new Mutation<>("port 0/70000/-1", skip, s -> slicePort(s, p -> p.withPort(pick(List.of(0, 70000, -1))))),
                new Mutation<>("duplicate port names", skip, s -> new EndpointSliceBuilder(s)
                        .addToPorts(new EndpointPortBuilder(s.getPorts().get(0)).withPort(9999).build()).build()),
                new Mutation<>("unknown protocol", skip, s -> slicePort(s, p -> p.withProtocol(pick(BAD_PROTOCOLS)))),
                new Mutation<>("unknown address type", skip, s -> new EndpointSliceBuilder(s).withAddressType("IPv5").build()),
                new Mutation<>("no service-name label", skip, s -> new EndpointSliceBuilder(s).editMetadata()
                        .removeFromLabels("kubernetes.io/service-name").endMetadata().build()),
                new Mutation<>("hostile slice name", skip, s -> new EndpointSliceBuilder(s).editMetadata()
                        .withName(nonEmpty(hostileName()) + "x\"").endMetadata().build()),
                new Mutation<>("hostile port name", skip, s -> slicePort(s, p -> p.withName(nonEmpty(hostileName()) + " "))),
                new Mutation<>("hostile node, zone and hints", Outcome.PROGRAMMED, s -> endpoint(s, e -> e
                        .withNodeName("node\"\n-A INPUT -j DROP").withZone("zone `id`").withNewHints().addNewForZone()
                        .withName("z\"\n").endForZone().endHints().withNewTargetRef().withKind("Pod")
                        .withName("$(reboot)").endTargetRef())),
                new Mutation<>("no conditions", Outcome.PROGRAMMED, s -> endpoint(s, e -> e.withConditions(null))));
    }

    private static String nonEmpty(String s) {
        return s.isEmpty() ? "\"\"" : s;
    }

    private static Service edit(Service s, UnaryOperator<ServiceBuilder> change) {
        return change.apply(new ServiceBuilder(s)).build();
    }

    private Service port(Service s, UnaryOperator<ServicePortBuilder> change) {
        List<ServicePort> ports = new ArrayList<>(s.getSpec().getPorts());
        int i = random.nextInt(ports.size());
        ports.set(i, change.apply(new ServicePortBuilder(ports.get(i))).build());
        return edit(s, b -> b.editSpec().withPorts(ports).endSpec());
    }

    private EndpointSlice slicePort(EndpointSlice s, UnaryOperator<EndpointPortBuilder> change) {
        List<EndpointPort> ports = new ArrayList<>(s.getPorts());
        int i = random.nextInt(ports.size());
        ports.set(i, change.apply(new EndpointPortBuilder(ports.get(i))).build());
        return new EndpointSliceBuilder(s).withPorts(ports).build();
    }

    private EndpointSlice endpoint(EndpointSlice s, UnaryOperator<EndpointBuilder> change) {
        List<Endpoint> endpoints = new ArrayList<>(s.getEndpoints());
        int i = random.nextInt(endpoints.size());
        endpoints.set(i, change.apply(new EndpointBuilder(endpoints.get(i))).build());
        return new EndpointSliceBuilder(s).withEndpoints(endpoints).build();
    }
}
