package io.pointsman.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.pointsman.core.config.HostPort;
import io.pointsman.core.config.KubeProxyConfigurationFile;
import io.pointsman.core.config.ProxyConfig;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every manifest under deploy/ parsed with fabric8: kinds, API versions, the fields a node agent
 * needs; the DaemonSet's arguments and the ConfigMap's KubeProxyConfiguration run through the
 * daemon's own parsing; the ClusterRole grants exactly what the daemon uses. Components' JSON
 * patches are applied to the DaemonSet and the result is checked the same way.
 */
class DeployManifestsTest {
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final String NAMESPACE = "kube-system";
    private static final String NODE = "node-x";
    private static final String NODE_IP = "192.0.2.10";

    /** (apiGroup, resource) → verbs: what the informers (Services, EndpointSlices, Node) and EventRecorder use. */
    private static final Map<String, Set<String>> DAEMON_NEEDS = Map.of(
            "/services", Set.of("get", "list", "watch"),
            "/nodes", Set.of("get", "list", "watch"),
            "discovery.k8s.io/endpointslices", Set.of("get", "list", "watch"),
            "events.k8s.io/events", Set.of("create", "patch"));

    private static Path deploy;
    /** Every object of every manifest file under deploy/, by file (relative to deploy/). */
    private static final Map<String, List<HasMetadata>> objects = new LinkedHashMap<>();

    @BeforeAll
    static void parseEverything() throws IOException {
        deploy = DaemonTest.repoRoot().resolve("deploy");
        try (Stream<Path> files = Files.walk(deploy)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml")).sorted().toList()) {
                if (f.getFileName().toString().startsWith("kustomization.")) {
                    continue;
                }
                objects.put(deploy.relativize(f).toString(), parse(f));
            }
        }
    }

    private static List<HasMetadata> parse(Path file) throws IOException {
        Object parsed = SERIALIZATION.unmarshal(Files.readString(file));
        List<HasMetadata> list = new ArrayList<>();
        if (parsed instanceof HasMetadata h) {
            list.add(h);
        } else if (parsed instanceof List<?> l) {
            for (Object o : l) {
                assertThat(o).as(file + ": every document a Kubernetes object").isInstanceOf(HasMetadata.class);
                list.add((HasMetadata) o);
            }
        } else {
            fail(file + ": not a Kubernetes object (parsed as " + (parsed == null ? "nothing" : parsed.getClass()) + ")");
        }
        return list;
    }

    private static <T extends HasMetadata> T only(String file, Class<T> type) {
        List<HasMetadata> in = objects.get(file);
        assertThat(in).as(file).isNotNull().hasSize(1);
        assertThat(in.get(0)).as(file).isInstanceOf(type);
        return type.cast(in.get(0));
    }

    @Test
    void everyManifestIsAKnownKindWithItsApiVersionANameAndNoUnknownField() {
        Map<String, String> apiVersionByKind = Map.of(
                "ServiceAccount", "v1", "ConfigMap", "v1", "Service", "v1",
                "ClusterRole", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "rbac.authorization.k8s.io/v1",
                "DaemonSet", "apps/v1", "ServiceMonitor", "monitoring.coreos.com/v1");
        Set<String> clusterScoped = Set.of("ClusterRole", "ClusterRoleBinding");
        assertThat(objects).isNotEmpty();
        objects.forEach((file, list) -> {
            for (HasMetadata o : list) {
                String what = file + " " + o.getKind();
                assertThat(apiVersionByKind).as(what + ": a kind this deployment should hold").containsKey(o.getKind());
                assertThat(o.getApiVersion()).as(what).isEqualTo(apiVersionByKind.get(o.getKind()));
                assertThat(o.getMetadata().getName()).as(what + " name").isNotBlank();
                if (clusterScoped.contains(o.getKind())) {
                    assertThat(o.getMetadata().getNamespace()).as(what + " is cluster-scoped").isNull();
                } else {
                    assertThat(o.getMetadata().getNamespace()).as(what + " namespace").isEqualTo(NAMESPACE);
                }
                if (!(o instanceof GenericKubernetesResource)) {
                    // fabric8 keeps fields its model does not know in additionalProperties: a typo lands there.
                    assertThat(unknownFields(o, "", new IdentityHashMap<>())).as(what + ": unknown fields").isEmpty();
                }
            }
        });
        assertThat(objects.values().stream().flatMap(List::stream).map(HasMetadata::getKind))
                .contains("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "ServiceMonitor");
    }

    @Test
    void theKustomizationsNameEveryManifestAndOnlyExistingOnes() throws IOException {
        JsonNode base = YAML.readTree(deploy.resolve("kustomization.yaml").toFile());
        assertThat(base.path("kind").asText()).isEqualTo("Kustomization");
        assertThat(base.path("namespace").asText()).isEqualTo(NAMESPACE);
        assertThat(texts(base.path("resources")))
                .containsExactlyInAnyOrder("serviceaccount.yaml", "clusterrole.yaml", "clusterrolebinding.yaml",
                        "configmap.yaml", "daemonset.yaml");
        Set<String> listed = new TreeSet<>(texts(base.path("resources")));
        try (Stream<Path> components = Files.list(deploy.resolve("components"))) {
            for (Path dir : components.sorted().toList()) {
                JsonNode k = YAML.readTree(dir.resolve("kustomization.yaml").toFile());
                assertThat(k.path("kind").asText()).as(dir + ": a kustomize Component").isEqualTo("Component");
                assertThat(k.path("apiVersion").asText()).isEqualTo("kustomize.config.k8s.io/v1alpha1");
                for (String r : texts(k.path("resources"))) {
                    listed.add(deploy.relativize(dir.resolve(r)).toString());
                }
                assertThat(k.has("resources") || k.has("patches")).as(dir + " does something").isTrue();
            }
        }
        assertThat(listed).as("files named by a kustomization").isEqualTo(new TreeSet<>(objects.keySet()));
    }

    @Test
    void theClusterRoleGrantsExactlyWhatTheDaemonUsesToItsServiceAccount() {
        ClusterRole role = only("clusterrole.yaml", ClusterRole.class);
        assertThat(grants(role)).isEqualTo(DAEMON_NEEDS);
        for (PolicyRule r : role.getRules()) {
            assertThat(r.getResourceNames()).as("no resourceNames").isNullOrEmpty();
            assertThat(r.getNonResourceURLs()).as("no nonResourceURLs").isNullOrEmpty();
        }
        ServiceAccount sa = only("serviceaccount.yaml", ServiceAccount.class);
        ClusterRoleBinding binding = only("clusterrolebinding.yaml", ClusterRoleBinding.class);
        assertThat(binding.getRoleRef().getKind()).isEqualTo("ClusterRole");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getRoleRef().getApiGroup()).isEqualTo("rbac.authorization.k8s.io");
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getName()).isEqualTo(sa.getMetadata().getName());
            assertThat(s.getNamespace()).isEqualTo(NAMESPACE);
        });
        assertThat(daemonSet().getSpec().getTemplate().getSpec().getServiceAccountName()).isEqualTo(sa.getMetadata().getName());
    }

    @Test
    void theKubeRbacProxyComponentGrantsOnlyReviewsAndMetricsReading() {
        ClusterRole delegator = only("components/metrics-kube-rbac-proxy/clusterrole-auth-delegator.yaml", ClusterRole.class);
        assertThat(grants(delegator)).isEqualTo(Map.of(
                "authentication.k8s.io/tokenreviews", Set.of("create"),
                "authorization.k8s.io/subjectaccessreviews", Set.of("create")));
        ClusterRoleBinding b = only("components/metrics-kube-rbac-proxy/clusterrolebinding-auth-delegator.yaml",
                ClusterRoleBinding.class);
        assertThat(b.getRoleRef().getName()).isEqualTo(delegator.getMetadata().getName());
        assertThat(b.getSubjects()).singleElement().satisfies(s -> assertThat(s.getName()).isEqualTo("pointsman"));
        ClusterRole reader = only("components/metrics-kube-rbac-proxy/clusterrole-metrics-reader.yaml", ClusterRole.class);
        assertThat(reader.getRules()).singleElement().satisfies(r -> {
            assertThat(r.getNonResourceURLs()).containsExactly("/metrics");
            assertThat(r.getVerbs()).containsExactly("get");
            assertThat(r.getResources()).isNullOrEmpty();
        });
    }

    @Test
    void theDaemonSetIsANodeCriticalHostNetworkAgentWithIptablesMountsAndLeastPrivilege() {
        DaemonSet ds = daemonSet();
        var spec = ds.getSpec();
        assertThat(spec.getSelector().getMatchLabels()).isNotEmpty();
        assertThat(spec.getTemplate().getMetadata().getLabels()).containsAllEntriesOf(spec.getSelector().getMatchLabels());
        assertThat(spec.getUpdateStrategy().getType()).isEqualTo("RollingUpdate");
        var pod = spec.getTemplate().getSpec();
        assertThat(pod.getHostNetwork()).isTrue();
        assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
        assertThat(pod.getTolerations()).as("tolerates every taint").anySatisfy(t -> assertTolerateAll(t));
        assertThat(pod.getDnsPolicy()).as("no cluster DNS: it is a Service too").isEqualTo("Default");

        Container c = pod.getContainers().get(0);
        assertThat(c.getSecurityContext().getPrivileged()).isFalse();
        assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(c.getSecurityContext().getCapabilities().getAdd()).containsExactlyInAnyOrder("NET_ADMIN", "NET_RAW");
        assertThat(c.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(c.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(c.getResources().getLimits()).containsKey("memory");

        assertThat(hostPath(pod.getVolumes(), "/run/xtables.lock").getHostPath().getType()).isEqualTo("FileOrCreate");
        assertThat(mountOf(c, hostPath(pod.getVolumes(), "/run/xtables.lock")).getMountPath()).isEqualTo("/run/xtables.lock");
        VolumeMount modules = mountOf(c, hostPath(pod.getVolumes(), "/lib/modules"));
        assertThat(modules.getMountPath()).isEqualTo("/lib/modules");
        assertThat(modules.getReadOnly()).isTrue();

        EnvVar nodeName = env(c, "NODE_NAME");
        assertThat(nodeName.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("spec.nodeName");
        assertThat(c.getArgs()).contains("--hostname-override=$(NODE_NAME)");
        for (String key : List.of("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")) {
            var ref = env(c, key).getValueFrom().getConfigMapKeyRef();
            assertThat(ref.getName()).isEqualTo(configMap().getMetadata().getName());
            assertThat(ref.getOptional()).as(key + " optional: the ClusterIP works until it is set").isTrue();
        }

        Probe live = c.getLivenessProbe();
        assertThat(live.getHttpGet().getPath()).isEqualTo("/livez");
        assertThat(live.getHttpGet().getPort().getIntVal()).isEqualTo(10256);
        assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    }

    @Test
    void theConfigMapHoldsAKubeProxyConfigurationTheDaemonAccepts() {
        String text = configMap().getData().get("config.conf");
        assertThat(text).as("config.conf in the ConfigMap").isNotNull();
        ProxyConfig config = KubeProxyConfigurationFile.parse("deploy/configmap.yaml config.conf", text).build();
        assertThat(config.mode()).isEqualTo("iptables");
        assertThat(config.metricsBindAddress()).as("metrics stay on loopback").isEqualTo("127.0.0.1:10249");
        assertThat(config.healthzBindAddress()).isEqualTo("0.0.0.0:10256");
        assertThat(config.clusterCIDRs()).containsExactly("10.244.0.0/16");
        assertThat(config.kubeconfig()).as("the pod's service account").isEmpty();
    }

    @Test
    void theDaemonSetsArgumentsAreAcceptedByTheDaemonAndItsProbesHitItsHealthServer(@TempDir Path tmp) throws IOException {
        DaemonSet ds = daemonSet();
        Main main = parseArgs(ds, tmp);
        assertThat(main.from).as("reads the API, not files").isNull();
        assertThat(main.dryRun).isFalse();
        ProxyConfig config = main.options.resolve();
        assertThat(config.hostnameOverride()).isEqualTo(NODE);
        assertThat(config.mode()).isEqualTo("iptables");
        assertThat(Backends.forMode(config.mode()).mode()).isEqualTo("iptables");
        assertThat(config.metricsBindAddress()).isEqualTo("127.0.0.1:10249");
        int probePort = ds.getSpec().getTemplate().getSpec().getContainers().get(0).getLivenessProbe().getHttpGet()
                .getPort().getIntVal();
        assertThat(HostPort.parse("healthzBindAddress", config.healthzBindAddress()).port()).isEqualTo(probePort);
        assertThat(HostPort.parse("healthzBindAddress", config.healthzBindAddress()).host())
                .as("reachable by the kubelet's probe on the node IP").isEqualTo("0.0.0.0");
    }

    @Test
    void theMetricsComponentsBindWhereTheirAnnotationsPoint(@TempDir Path tmp) throws IOException {
        DaemonSet nodeIp = withComponent("metrics-node-ip");
        ProxyConfig c = parseArgs(nodeIp, tmp.resolve("a")).options.resolve();
        assertThat(c.metricsBindAddress()).isEqualTo(NODE_IP + ":10249");
        Map<String, String> annotations = nodeIp.getSpec().getTemplate().getMetadata().getAnnotations();
        assertThat(annotations).containsEntry("prometheus.io/scrape", "true")
                .containsEntry("prometheus.io/port", "10249").containsEntry("prometheus.io/path", "/metrics");

        DaemonSet proxied = withComponent("metrics-kube-rbac-proxy");
        ProxyConfig p = parseArgs(proxied, tmp.resolve("b")).options.resolve();
        assertThat(p.metricsBindAddress()).as("still loopback behind the proxy").isEqualTo("127.0.0.1:10249");
        List<Container> containers = proxied.getSpec().getTemplate().getSpec().getContainers();
        assertThat(containers).hasSize(2);
        Container sidecar = containers.get(1);
        assertThat(sidecar.getArgs()).contains("--upstream=http://127.0.0.1:10249/", "--secure-listen-address=$(NODE_IP):9449");
        assertThat(env(sidecar, "NODE_IP").getValueFrom().getFieldRef().getFieldPath()).isEqualTo("status.hostIP");
        assertThat(sidecar.getPorts()).singleElement().satisfies(port -> {
            assertThat(port.getName()).isEqualTo("https-metrics");
            assertThat(port.getContainerPort()).isEqualTo(9449);
        });
        assertThat(proxied.getSpec().getTemplate().getMetadata().getAnnotations())
                .containsEntry("prometheus.io/port", "9449").containsEntry("prometheus.io/scheme", "https");

        GenericKubernetesResource monitor = (GenericKubernetesResource)
                objects.get("components/servicemonitor/servicemonitor.yaml").get(0);
        io.fabric8.kubernetes.api.model.Service service =
                only("components/servicemonitor/service.yaml", io.fabric8.kubernetes.api.model.Service.class);
        assertThat(service.getSpec().getSelector()).isEqualTo(daemonSet().getSpec().getSelector().getMatchLabels());
        assertThat(service.getSpec().getPorts()).singleElement().satisfies(port -> {
            assertThat(port.getTargetPort().getStrVal()).isEqualTo("https-metrics");
            assertThat(port.getName()).isEqualTo("https-metrics");
        });
        JsonNode spec = YAML.valueToTree(monitor.getAdditionalProperties().get("spec"));
        assertThat(spec.path("selector").path("matchLabels").path("app.kubernetes.io/name").asText())
                .isEqualTo(service.getMetadata().getLabels().get("app.kubernetes.io/name"));
        assertThat(spec.path("endpoints").get(0).path("port").asText()).isEqualTo("https-metrics");
        assertThat(spec.path("endpoints").get(0).path("scheme").asText()).isEqualTo("https");
    }

    @Test
    void theModeComponentsPickTheModeAndPrivilegesOnlyIpvs(@TempDir Path tmp) throws IOException {
        DaemonSet ipvs = withComponent("ipvs");
        assertThat(parseArgs(ipvs, tmp.resolve("i")).options.resolve().mode()).isEqualTo("ipvs");
        assertThat(ipvs.getSpec().getTemplate().getSpec().getContainers().get(0).getSecurityContext().getPrivileged()).isTrue();
        DaemonSet nft = withComponent("nftables");
        assertThat(parseArgs(nft, tmp.resolve("n")).options.resolve().mode()).isEqualTo("nftables");
        var sc = nft.getSpec().getTemplate().getSpec().getContainers().get(0).getSecurityContext();
        assertThat(sc.getPrivileged()).isFalse();
        assertThat(sc.getCapabilities().getAdd()).containsExactlyInAnyOrder("NET_ADMIN", "NET_RAW");
    }

    @Test
    void theLocalhostNodePortsComponentPrivilegesOnlyAShortInitContainer() throws IOException {
        DaemonSet ds = withComponent("localhost-nodeports");
        var pod = ds.getSpec().getTemplate().getSpec();
        assertThat(pod.getInitContainers()).singleElement().satisfies(init -> {
            assertThat(init.getSecurityContext().getPrivileged()).isTrue();
            assertThat(init.getImage()).isEqualTo(pod.getContainers().get(0).getImage());
            assertThat(String.join(" ", init.getCommand())).contains("/proc/sys/net/ipv4/conf/all/route_localnet");
        });
        assertThat(pod.getContainers().get(0).getSecurityContext().getPrivileged()).isFalse();
    }

    // ---- helpers ---------------------------------------------------------------------------

    private static DaemonSet daemonSet() {
        return only("daemonset.yaml", DaemonSet.class);
    }

    private static ConfigMap configMap() {
        return only("configmap.yaml", ConfigMap.class);
    }

    private static void assertTolerateAll(Toleration t) {
        assertThat(t.getOperator()).isEqualTo("Exists");
        assertThat(t.getKey()).isNull();
        assertThat(t.getEffect()).isNull();
    }

    private static Volume hostPath(List<Volume> volumes, String path) {
        return volumes.stream().filter(v -> v.getHostPath() != null && path.equals(v.getHostPath().getPath()))
                .findFirst().orElseThrow(() -> new AssertionError("no hostPath volume for " + path));
    }

    private static VolumeMount mountOf(Container c, Volume v) {
        return c.getVolumeMounts().stream().filter(m -> m.getName().equals(v.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("volume " + v.getName() + " is not mounted"));
    }

    private static EnvVar env(Container c, String name) {
        return c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no env " + name + " in container " + c.getName()));
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** "group/resource" → verbs, merged over the rules. */
    private static Map<String, Set<String>> grants(ClusterRole role) {
        Map<String, Set<String>> out = new LinkedHashMap<>();
        for (PolicyRule r : role.getRules()) {
            assertThat(r.getVerbs()).as("no wildcard verbs").doesNotContain("*");
            for (String g : r.getApiGroups()) {
                for (String res : r.getResources()) {
                    assertThat(g + res).as("no wildcards").doesNotContain("*");
                    out.computeIfAbsent(g + "/" + res, k -> new TreeSet<>()).addAll(r.getVerbs());
                }
            }
        }
        return out;
    }

    /**
     * The DaemonSet's container arguments run through the daemon's command line: $(VAR) expanded
     * as the kubelet does (NODE_NAME, NODE_IP from the downward API), files of mounted ConfigMaps
     * laid out under {@code root} and the paths in the arguments pointed there.
     */
    private static Main parseArgs(DaemonSet ds, Path root) throws IOException {
        Container c = ds.getSpec().getTemplate().getSpec().getContainers().get(0);
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar e : c.getEnv()) {
            if (e.getValue() != null) {
                env.put(e.getName(), e.getValue());
            } else if (e.getValueFrom() != null && e.getValueFrom().getFieldRef() != null) {
                String field = e.getValueFrom().getFieldRef().getFieldPath();
                env.put(e.getName(), switch (field) {
                    case "spec.nodeName" -> NODE;
                    case "status.hostIP" -> NODE_IP;
                    default -> throw new AssertionError("env " + e.getName() + ": unexpected field " + field);
                });
            }
        }
        Map<String, Path> mounts = new LinkedHashMap<>();
        for (VolumeMount m : c.getVolumeMounts()) {
            Volume v = ds.getSpec().getTemplate().getSpec().getVolumes().stream()
                    .filter(x -> x.getName().equals(m.getName())).findFirst()
                    .orElseThrow(() -> new AssertionError("mount " + m.getName() + " has no volume"));
            if (v.getConfigMap() == null) {
                continue;
            }
            ConfigMap cm = objects.values().stream().flatMap(List::stream)
                    .filter(o -> o instanceof ConfigMap && o.getMetadata().getName().equals(v.getConfigMap().getName()))
                    .map(ConfigMap.class::cast).findFirst()
                    .orElseThrow(() -> new AssertionError("no ConfigMap " + v.getConfigMap().getName()));
            Path dir = root.resolve(m.getName());
            Files.createDirectories(dir);
            var items = v.getConfigMap().getItems();
            if (items == null || items.isEmpty()) {
                for (var e : cm.getData().entrySet()) {
                    Files.writeString(dir.resolve(e.getKey()), e.getValue());
                }
            } else {
                for (var item : items) {
                    assertThat(cm.getData()).as("ConfigMap key " + item.getKey()).containsKey(item.getKey());
                    Files.writeString(dir.resolve(item.getPath()), cm.getData().get(item.getKey()));
                }
            }
            mounts.put(m.getMountPath(), dir);
        }
        List<String> args = new ArrayList<>();
        for (String a : c.getArgs()) {
            String expanded = expand(a, env);
            for (var m : mounts.entrySet()) {
                expanded = expanded.replace(m.getKey() + "/", m.getValue() + "/");
            }
            args.add(expanded);
        }
        if (c.getCommand() != null) {
            assertThat(c.getCommand()).as("the image's entrypoint runs the daemon").isEmpty();
        }
        Main main = new Main();
        new CommandLine(main).parseArgs(args.toArray(String[]::new));
        if (main.options.config != null) {
            assertThat(main.options.config).as("--config names a file of a mounted ConfigMap").exists();
        }
        return main;
    }

    private static final Pattern VAR = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    private static String expand(String arg, Map<String, String> env) {
        Matcher m = VAR.matcher(arg);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = env.get(m.group(1));
            assertThat(value).as("$(" + m.group(1) + ") in " + arg + " is defined in the container's env").isNotNull();
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** The base DaemonSet with a component's JSON patches (RFC 6902 add/replace) applied, as kustomize does. */
    private static DaemonSet withComponent(String component) throws IOException {
        JsonNode k = YAML.readTree(deploy.resolve("components").resolve(component).resolve("kustomization.yaml").toFile());
        JsonNode tree = YAML.readTree(Files.readString(deploy.resolve("daemonset.yaml")));
        int applied = 0;
        for (JsonNode p : k.path("patches")) {
            if (!"DaemonSet".equals(p.path("target").path("kind").asText())) {
                continue;
            }
            assertThat(p.path("target").path("name").asText()).isEqualTo(daemonSet().getMetadata().getName());
            for (JsonNode op : YAML.readTree(p.path("patch").asText())) {
                applyOp(tree, op);
                applied++;
            }
        }
        assertThat(applied).as(component + " patches the DaemonSet").isPositive();
        DaemonSet ds = SERIALIZATION.unmarshal(YAML.writeValueAsString(tree), DaemonSet.class);
        assertThat(unknownFields(ds, "", new IdentityHashMap<>())).as(component + ": unknown fields").isEmpty();
        return ds;
    }

    private static void applyOp(JsonNode root, JsonNode op) {
        String path = op.path("path").asText();
        List<String> parts = List.of(path.substring(1).split("/"));
        JsonNode parent = root;
        for (String part : parts.subList(0, parts.size() - 1)) {
            String key = part.replace("~1", "/").replace("~0", "~");
            parent = parent.isArray() ? parent.get(Integer.parseInt(key)) : parent.get(key);
            assertThat(parent).as("patch path " + path + " exists up to " + key).isNotNull();
        }
        String last = parts.get(parts.size() - 1).replace("~1", "/").replace("~0", "~");
        JsonNode value = op.path("value");
        switch (op.path("op").asText()) {
            case "add" -> {
                if (parent instanceof ArrayNode a) {
                    if (last.equals("-")) {
                        a.add(value);
                    } else {
                        a.insert(Integer.parseInt(last), value);
                    }
                } else {
                    ((ObjectNode) parent).set(last, value);
                }
            }
            case "replace" -> {
                if (parent instanceof ArrayNode a) {
                    a.set(Integer.parseInt(last), value);
                } else {
                    assertThat(parent.has(last)).as("replace " + path + ": exists").isTrue();
                    ((ObjectNode) parent).set(last, value);
                }
            }
            default -> fail("patch op " + op.path("op").asText() + " at " + path + " (expected: add or replace)");
        }
    }

    /** Paths of fields fabric8's typed model did not know (kept in additionalProperties). */
    private static List<String> unknownFields(Object o, String path, Map<Object, Boolean> seen) {
        List<String> out = new ArrayList<>();
        if (o == null || seen.put(o, Boolean.TRUE) != null) {
            return out;
        }
        if (o instanceof Collection<?> c) {
            int i = 0;
            for (Object e : c) {
                out.addAll(unknownFields(e, path + "[" + i++ + "]", seen));
            }
            return out;
        }
        if (o instanceof Map<?, ?> m) {
            for (var e : m.entrySet()) {
                out.addAll(unknownFields(e.getValue(), path + "." + e.getKey(), seen));
            }
            return out;
        }
        if (!o.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
            return out;
        }
        for (Method m : o.getClass().getMethods()) {
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || !m.getName().startsWith("get")
                    || m.getDeclaringClass() == Object.class) {
                continue;
            }
            Object v;
            try {
                v = m.invoke(o);
            } catch (ReflectiveOperationException e) {
                continue;
            }
            if (m.getName().equals("getAdditionalProperties")) {
                if (v instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    out.add(path + " " + extra.keySet().stream().map(String::valueOf).collect(Collectors.joining(", ")));
                }
            } else {
                out.addAll(unknownFields(v, path + "." + m.getName().substring(3), seen));
            }
        }
        return out;
    }
}
