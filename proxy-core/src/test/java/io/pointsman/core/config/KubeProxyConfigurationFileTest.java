package io.pointsman.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class KubeProxyConfigurationFileTest {

    private static ProxyConfig parse(String yaml) {
        return KubeProxyConfigurationFile.parse("test.yaml", yaml).build();
    }

    private static final String HEADER = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";

    @Test
    void emptyConfigurationMeansUpstreamDefaults() {
        ProxyConfig c = parse(HEADER);
        assertThat(c).isEqualTo(ProxyConfig.defaults());
        assertThat(c.mode()).isEqualTo("iptables");
        assertThat(c.metricsBindAddress()).isEqualTo("127.0.0.1:10249");
        assertThat(c.healthzBindAddress()).isEqualTo("0.0.0.0:10256");
        assertThat(c.syncPeriod()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.minSyncPeriod()).isEqualTo(Duration.ofSeconds(1));
        assertThat(c.masqueradeBit()).isEqualTo(14);
        assertThat(c.localhostNodePorts()).isTrue();
    }

    @Test
    void readsTheFieldsPointsmanUses() {
        ProxyConfig c = parse(HEADER + """
                mode: iptables
                hostnameOverride: node-1
                clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
                clientConnection:
                  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
                  qps: 5
                iptables:
                  masqueradeAll: true
                  masqueradeBit: 15
                  syncPeriod: 1m0s
                  minSyncPeriod: 500ms
                  localhostNodePorts: false
                nodePortAddresses: [192.168.0.0/16, primary]
                metricsBindAddress: 0.0.0.0:10249
                conntrack:
                  maxPerCore: 32768
                """);
        assertThat(c.hostnameOverride()).isEqualTo("node-1");
        assertThat(c.clusterCIDRs()).containsExactly("10.244.0.0/16", "fd00:10:244::/56");
        assertThat(c.kubeconfig()).isEqualTo("/var/lib/kube-proxy/kubeconfig.conf");
        assertThat(c.masqueradeAll()).isTrue();
        assertThat(c.masqueradeBit()).isEqualTo(15);
        assertThat(c.masqueradeMark()).isEqualTo(0x8000);
        assertThat(c.syncPeriod()).isEqualTo(Duration.ofMinutes(1));
        assertThat(c.minSyncPeriod()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.localhostNodePorts()).isFalse();
        assertThat(c.nodePortAddresses()).containsExactly("192.168.0.0/16", "primary");
        assertThat(c.metricsBindAddress()).isEqualTo("0.0.0.0:10249");
    }

    @Test
    void anUnknownFieldIsNamed() {
        assertThatThrownBy(() -> parse(HEADER + "iptables:\n  masqueradeBits: 14\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("unknown field \"iptables.masqueradeBits\"");
        assertThatThrownBy(() -> parse(HEADER + "proxyMode: iptables\n"))
                .hasMessageContaining("unknown field \"proxyMode\"");
    }

    @Test
    void aBadValueIsNamedWithWhatWasExpected() {
        assertThatThrownBy(() -> parse(HEADER + "iptables:\n  masqueradeBit: 40\n"))
                .hasMessageContaining("iptables.masqueradeBit: 40 (expected: 0-31)");
        assertThatThrownBy(() -> parse(HEADER + "iptables:\n  syncPeriod: soon\n"))
                .hasMessageContaining("iptables.syncPeriod: \"soon\"");
        assertThatThrownBy(() -> parse(HEADER + "iptables:\n  masqueradeAll: yes-please\n"))
                .hasMessageContaining("iptables.masqueradeAll").hasMessageContaining("true or false");
        assertThatThrownBy(() -> parse(HEADER + "clusterCIDR: 10.0.0.0/33\n"))
                .hasMessageContaining("clusterCIDR: \"10.0.0.0/33\"");
        assertThatThrownBy(() -> parse(HEADER + "detectLocalMode: Magic\n"))
                .hasMessageContaining("detectLocalMode: \"Magic\"");
        assertThatThrownBy(() -> parse(HEADER + "metricsBindAddress: localhost\n"))
                .hasMessageContaining("metricsBindAddress: \"localhost\"");
    }

    @Test
    void theKindMustBeAKubeProxyConfiguration() {
        assertThatThrownBy(() -> parse("apiVersion: v1\nkind: ConfigMap\n"))
                .hasMessageContaining("expected: kubeproxy.config.k8s.io/v1alpha1/KubeProxyConfiguration");
    }

    @Test
    void goDurations() {
        assertThat(GoDuration.parse("f", "1h2m3s")).isEqualTo(Duration.ofSeconds(3723));
        assertThat(GoDuration.parse("f", "1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(GoDuration.parse("f", "0")).isEqualTo(Duration.ZERO);
        assertThat(GoDuration.format(Duration.ofSeconds(30))).isEqualTo("30s");
        assertThat(GoDuration.format(Duration.ofMinutes(15))).isEqualTo("15m0s");
        assertThat(GoDuration.format(Duration.ofHours(1))).isEqualTo("1h0m0s");
        assertThat(GoDuration.format(Duration.ofMillis(500))).isEqualTo("500ms");
        assertThatThrownBy(() -> GoDuration.parse("f", "10")).hasMessageContaining("expected: a duration");
    }

    @Test
    void configzShowsTheEffectiveConfiguration() {
        ProxyConfig c = ProxyConfig.defaults().toBuilder().build();
        String json = ConfigJson.configz(c);
        assertThat(json).contains("\"kubeproxy.config.k8s.io\"").contains("\"mode\" : \"iptables\"")
                .contains("\"syncPeriod\" : \"30s\"");
        assertThat(List.of(json.split("\n"))).noneMatch(l -> l.toLowerCase().contains("token"));
    }
}
