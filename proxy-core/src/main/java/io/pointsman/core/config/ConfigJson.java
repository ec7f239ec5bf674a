package io.pointsman.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The effective configuration as a KubeProxyConfiguration-shaped JSON document, for
 * {@code /configz}. Holds paths and addresses only: never credentials.
 */
public final class ConfigJson {
    private ConfigJson() {
    }

    public static Map<String, Object> toMap(ProxyConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("apiVersion", KubeProxyConfigurationFile.API_VERSION);
        m.put("kind", "KubeProxyConfiguration");
        m.put("mode", c.mode());
        m.put("clientConnection", Map.of("kubeconfig", c.kubeconfig()));
        m.put("hostnameOverride", c.hostnameOverride());
        m.put("bindAddress", c.bindAddress());
        m.put("healthzBindAddress", c.healthzBindAddress());
        m.put("metricsBindAddress", c.metricsBindAddress());
        m.put("clusterCIDR", String.join(",", c.clusterCIDRs()));
        m.put("detectLocalMode", c.detectLocalMode());
        m.put("detectLocal", Map.of("bridgeInterface", c.bridgeInterface(),
                "interfaceNamePrefix", c.interfaceNamePrefix()));
        Map<String, Object> ipt = new LinkedHashMap<>();
        ipt.put("masqueradeAll", c.masqueradeAll());
        ipt.put("masqueradeBit", c.masqueradeBit());
        ipt.put("localhostNodePorts", c.localhostNodePorts());
        ipt.put("syncPeriod", GoDuration.format(c.syncPeriod()));
        ipt.put("minSyncPeriod", GoDuration.format(c.minSyncPeriod()));
        m.put("iptables", ipt);
        Map<String, Object> ipvs = new LinkedHashMap<>();
        ipvs.put("syncPeriod", GoDuration.format(c.ipvs().syncPeriod()));
        ipvs.put("minSyncPeriod", GoDuration.format(c.ipvs().minSyncPeriod()));
        ipvs.put("scheduler", c.ipvs().scheduler());
        ipvs.put("excludeCIDRs", c.ipvs().excludeCIDRs());
        ipvs.put("strictARP", c.ipvs().strictARP());
        ipvs.put("tcpTimeout", GoDuration.format(c.ipvs().tcpTimeout()));
        ipvs.put("tcpFinTimeout", GoDuration.format(c.ipvs().tcpFinTimeout()));
        ipvs.put("udpTimeout", GoDuration.format(c.ipvs().udpTimeout()));
        m.put("ipvs", ipvs);
        m.put("nftables", Map.of("syncPeriod", GoDuration.format(c.nftables().syncPeriod()),
                "minSyncPeriod", GoDuration.format(c.nftables().minSyncPeriod())));
        m.put("udpIdleTimeout", GoDuration.format(c.userspace().udpIdleTimeout()));
        m.put("nodePortAddresses", c.nodePortAddresses());
        m.put("configSyncPeriod", GoDuration.format(c.configSyncPeriod()));
        return m;
    }

    /** {"kubeproxy.config.k8s.io": {...}}, the shape upstream's /configz serves. */
    public static String configz(ProxyConfig c) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(Map.of("kubeproxy.config.k8s.io", toMap(c)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise configuration", e);
        }
    }
}
