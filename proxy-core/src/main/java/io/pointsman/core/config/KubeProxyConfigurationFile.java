package io.pointsman.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a {@code KubeProxyConfiguration} ({@code kubeproxy.config.k8s.io/v1alpha1}) file, YAML or
 * JSON, into a {@link ProxyConfig.Builder}. Every field of upstream's v1alpha1 type is known:
 * the ones Pointsman uses are applied, the others are accepted and logged once; an unknown field
 * or a value of the wrong type stops the start with a message naming it.
 */
public final class KubeProxyConfigurationFile {
    private static final Logger log = LoggerFactory.getLogger(KubeProxyConfigurationFile.class);
    static final String API_VERSION = "kubeproxy.config.k8s.io/v1alpha1";

    /** Known fields per object path; "*" marks a free-form map (featureGates). */
    private static final Map<String, Set<String>> FIELDS = Map.ofEntries(
            Map.entry("", Set.of("apiVersion", "kind", "featureGates", "clientConnection", "logging",
                    "hostnameOverride", "bindAddress", "healthzBindAddress", "metricsBindAddress",
                    "bindAddressHardFail", "enableProfiling", "showHiddenMetricsForVersion", "mode", "iptables",
                    "ipvs", "nftables", "winkernel", "detectLocalMode", "detectLocal", "clusterCIDR",
                    "nodePortAddresses", "oomScoreAdj", "conntrack", "configSyncPeriod", "portRange",
                    "udpIdleTimeout", "linux", "windowsRunAsService", "syncPeriod", "minSyncPeriod")),
            Map.entry("clientConnection", Set.of("kubeconfig", "acceptContentTypes", "contentType", "qps", "burst")),
            Map.entry("iptables", Set.of("masqueradeAll", "masqueradeBit", "localhostNodePorts", "syncPeriod",
                    "minSyncPeriod")),
            Map.entry("ipvs", Set.of("syncPeriod", "minSyncPeriod", "scheduler", "excludeCIDRs", "strictARP",
                    "tcpTimeout", "tcpFinTimeout", "udpTimeout")),
            Map.entry("nftables", Set.of("masqueradeAll", "masqueradeBit", "syncPeriod", "minSyncPeriod")),
            Map.entry("detectLocal", Set.of("bridgeInterface", "interfaceNamePrefix")),
            Map.entry("conntrack", Set.of("maxPerCore", "min", "tcpEstablishedTimeout", "tcpCloseWaitTimeout",
                    "tcpBeLiberal", "udpTimeout", "udpStreamTimeout")),
            Map.entry("linux", Set.of("masqueradeAll", "oomScoreAdj", "conntrack")),
            Map.entry("linux.conntrack", Set.of("maxPerCore", "min", "tcpEstablishedTimeout", "tcpCloseWaitTimeout",
                    "tcpBeLiberal", "udpTimeout", "udpStreamTimeout")));
    /** Objects whose contents are not checked field by field. */
    private static final Set<String> FREE_FORM = Set.of("featureGates", "logging", "winkernel");

    private KubeProxyConfigurationFile() {
    }

    /** Reads {@code file} into a builder holding upstream's defaults overridden by the file. */
    public static ProxyConfig.Builder read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("config file " + file + ": cannot read (" + e.getMessage() + ")");
        }
        return parse(file.toString(), text);
    }

    public static ProxyConfig.Builder parse(String source, String text) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(text);
        } catch (IOException e) {
            throw new ConfigException("config file " + source + ": not valid YAML or JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException("config file " + source + ": expected a KubeProxyConfiguration object");
        }
        String kind = root.path("kind").asText("");
        String apiVersion = root.path("apiVersion").asText("");
        if (!"KubeProxyConfiguration".equals(kind) || !API_VERSION.equals(apiVersion)) {
            throw new ConfigException("config file " + source + ": apiVersion/kind " + apiVersion + "/" + kind
                    + " (expected: " + API_VERSION + "/KubeProxyConfiguration)");
        }
        checkFields(source, "", root);
        logIgnored(root);
        Reader r = new Reader(source);
        ProxyConfig.Builder b = new ProxyConfig.Builder();
        b.mode = r.text(root, "mode", b.mode);
        b.kubeconfig = r.text(root.path("clientConnection"), "clientConnection.kubeconfig", "kubeconfig", b.kubeconfig);
        b.hostnameOverride = r.text(root, "hostnameOverride", b.hostnameOverride);
        b.bindAddress = r.text(root, "bindAddress", b.bindAddress);
        b.healthzBindAddress = r.text(root, "healthzBindAddress", b.healthzBindAddress);
        b.metricsBindAddress = r.text(root, "metricsBindAddress", b.metricsBindAddress);
        b.detectLocalMode = r.text(root, "detectLocalMode", b.detectLocalMode);
        JsonNode dl = root.path("detectLocal");
        b.bridgeInterface = r.text(dl, "detectLocal.bridgeInterface", "bridgeInterface", b.bridgeInterface);
        b.interfaceNamePrefix = r.text(dl, "detectLocal.interfaceNamePrefix", "interfaceNamePrefix", b.interfaceNamePrefix);
        String cidr = r.text(root, "clusterCIDR", "");
        if (!cidr.isEmpty()) {
            b.clusterCIDRs = List.of(cidr.split(","));
        }
        b.nodePortAddresses = r.strings(root, "nodePortAddresses", b.nodePortAddresses);
        b.configSyncPeriod = r.duration(root, "configSyncPeriod", "configSyncPeriod", b.configSyncPeriod);
        JsonNode ipt = root.path("iptables");
        b.masqueradeAll = r.bool(ipt, "iptables.masqueradeAll", "masqueradeAll", b.masqueradeAll);
        b.masqueradeAll = r.bool(root.path("linux"), "linux.masqueradeAll", "masqueradeAll", b.masqueradeAll);
        b.masqueradeBit = r.integer(ipt, "iptables.masqueradeBit", "masqueradeBit", b.masqueradeBit);
        b.localhostNodePorts = r.bool(ipt, "iptables.localhostNodePorts", "localhostNodePorts", b.localhostNodePorts);
        b.syncPeriod = r.duration(ipt, "iptables.syncPeriod", "syncPeriod", b.syncPeriod);
        b.minSyncPeriod = r.duration(ipt, "iptables.minSyncPeriod", "minSyncPeriod", b.minSyncPeriod);
        JsonNode ipvs = root.path("ipvs");
        IpvsOptions d = b.ipvs;
        b.ipvs = new IpvsOptions(
                r.duration(ipvs, "ipvs.syncPeriod", "syncPeriod", d.syncPeriod()),
                r.duration(ipvs, "ipvs.minSyncPeriod", "minSyncPeriod", d.minSyncPeriod()),
                r.text(ipvs, "ipvs.scheduler", "scheduler", d.scheduler()),
                r.strings(ipvs, "ipvs.excludeCIDRs", "excludeCIDRs", d.excludeCIDRs()),
                r.bool(ipvs, "ipvs.strictARP", "strictARP", d.strictARP()),
                r.duration(ipvs, "ipvs.tcpTimeout", "tcpTimeout", d.tcpTimeout()),
                r.duration(ipvs, "ipvs.tcpFinTimeout", "tcpFinTimeout", d.tcpFinTimeout()),
                r.duration(ipvs, "ipvs.udpTimeout", "udpTimeout", d.udpTimeout()));
        JsonNode nft = root.path("nftables");
        b.nftables = new NftablesOptions(
                r.duration(nft, "nftables.syncPeriod", "syncPeriod", b.nftables.syncPeriod()),
                r.duration(nft, "nftables.minSyncPeriod", "minSyncPeriod", b.nftables.minSyncPeriod()));
        UserspaceOptions u = b.userspace;
        b.userspace = new UserspaceOptions(r.duration(root, "udpIdleTimeout", "udpIdleTimeout", u.udpIdleTimeout()),
                u.tcpConnectTimeout(), u.tcpIdleTimeout());
        return b;
    }

    private static void checkFields(String source, String path, JsonNode node) {
        Set<String> known = FIELDS.get(path);
        if (known == null) {
            return;
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            String full = path.isEmpty() ? name : path + "." + name;
            if (!known.contains(name)) {
                throw new ConfigException("config file " + source + ": unknown field \"" + full + "\"");
            }
            JsonNode child = node.get(name);
            if (FIELDS.containsKey(full) || FREE_FORM.contains(full)) {
                if (!child.isObject() && !child.isNull()) {
                    throw new ConfigException("config file " + source + ": field \"" + full + "\" is "
                            + child.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + " (expected: an object)");
                }
                checkFields(source, full, child);
            }
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Typed access with messages naming the field. */
    private record Reader(String source) {
        String text(JsonNode parent, String field, String dflt) {
            return text(parent, field, field, dflt);
        }

        String text(JsonNode parent, String path, String field, String dflt) {
            JsonNode n = parent.get(field);
            if (n == null || n.isNull()) {
                return dflt;
            }
            if (!n.isTextual()) {
                throw wrong(path, n, "a string");
            }
            return n.asText();
        }

        boolean bool(JsonNode parent, String path, String field, boolean dflt) {
            JsonNode n = parent.get(field);
            if (n == null || n.isNull()) {
                return dflt;
            }
            if (!n.isBoolean()) {
                throw wrong(path, n, "true or false");
            }
            return n.asBoolean();
        }

        int integer(JsonNode parent, String path, String field, int dflt) {
            JsonNode n = parent.get(field);
            if (n == null || n.isNull()) {
                return dflt;
            }
            if (!n.isInt()) {
                throw wrong(path, n, "an integer");
            }
            return n.asInt();
        }

        java.time.Duration duration(JsonNode parent, String path, String field, java.time.Duration dflt) {
            String t = text(parent, path, field, null);
            return t == null ? dflt : GoDuration.parse(path, t);
        }

        List<String> strings(JsonNode parent, String field, List<String> dflt) {
            return strings(parent, field, field, dflt);
        }

        List<String> strings(JsonNode parent, String path, String field, List<String> dflt) {
            JsonNode n = parent.get(field);
            if (n == null || n.isNull()) {
                return dflt;
            }
            if (!n.isArray()) {
                throw wrong(path, n, "a list of strings");
            }
            List<String> out = new ArrayList<>();
            for (JsonNode e : n) {
                if (!e.isTextual()) {
                    throw wrong(path, e, "a list of strings");
                }
                out.add(e.asText());
            }
            return out;
        }

        ConfigException wrong(String path, JsonNode n, String expected) {
            return new ConfigException("config file " + source + ": field \"" + path + "\" is " + n
                    + " (expected: " + expected + ")");
        }
    }

    /** Logs the known fields that Pointsman reads but does not act on yet. */
    static void logIgnored(JsonNode root) {
        for (String f : List.of("conntrack", "oomScoreAdj", "winkernel", "featureGates", "portRange")) {
            if (root.has(f)) {
                log.info("config field \"{}\" is accepted but not used by this version", f);
            }
        }
    }
}
