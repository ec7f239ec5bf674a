package io.pointsman.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pointsman.core.config.ConfigException;
import io.pointsman.core.config.ProxyConfig;
import java.io.PrintStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CommandLineTest {

    private static ProxyConfig resolve(String... args) {
        Main main = new Main();
        new CommandLine(main).parseArgs(args);
        return main.options.resolve();
    }

    @Test
    void upstreamFlagNamesAndDefaults() {
        ProxyConfig c = resolve("--proxy-mode", "iptables", "--hostname-override", "Node-1", "--cluster-cidr",
                "10.244.0.0/16", "--iptables-sync-period", "45s", "--iptables-min-sync-period", "2s",
                "--masquerade-all", "--iptables-masquerade-bit", "12", "--nodeport-addresses", "192.168.0.0/16,primary",
                "--metrics-bind-address", "0.0.0.0:10249", "-v", "4");
        assertThat(c.hostnameOverride()).isEqualTo("Node-1");
        assertThat(c.clusterCIDRs()).containsExactly("10.244.0.0/16");
        assertThat(c.syncPeriod()).isEqualTo(Duration.ofSeconds(45));
        assertThat(c.minSyncPeriod()).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.masqueradeAll()).isTrue();
        assertThat(c.masqueradeBit()).isEqualTo(12);
        assertThat(c.nodePortAddresses()).containsExactly("192.168.0.0/16", "primary");
        assertThat(c.verbosity()).isEqualTo(4);
        assertThat(resolve()).isEqualTo(ProxyConfig.defaults());
    }

    @Test
    void flagsOverrideTheConfigFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("config.yaml");
        Files.writeString(file, """
                apiVersion: kubeproxy.config.k8s.io/v1alpha1
                kind: KubeProxyConfiguration
                clusterCIDR: 10.0.0.0/8
                iptables:
                  masqueradeBit: 15
                  minSyncPeriod: 5s
                """);
        ProxyConfig c = resolve("--config", file.toString(), "--iptables-masquerade-bit", "16");
        assertThat(c.masqueradeBit()).as("flag wins").isEqualTo(16);
        assertThat(c.minSyncPeriod()).as("file value kept").isEqualTo(Duration.ofSeconds(5));
        assertThat(c.clusterCIDRs()).containsExactly("10.0.0.0/8");
    }

    @Test
    void aBadValueIsNamed() {
        assertThatThrownBy(() -> resolve("--iptables-masquerade-bit", "40"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("masqueradeBit: 40 (expected: 0-31)");
        assertThatThrownBy(() -> resolve("--iptables-sync-period", "often"))
                .hasMessageContaining("--iptables-sync-period: \"often\"");
        assertThatThrownBy(() -> resolve("--cluster-cidr", "10.0.0.0"))
                .hasMessageContaining("clusterCIDR: \"10.0.0.0\"");
    }

    @Test
    void aBadConfigurationStopsTheStartWithExitCode2(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("config.yaml");
        Files.writeString(file, """
                apiVersion: kubeproxy.config.k8s.io/v1alpha1
                kind: KubeProxyConfiguration
                iptables:
                  surprise: true
                """);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            code = Main.execute("--config", file.toString(), "--dry-run");
        } finally {
            System.setErr(old);
        }
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown field \"iptables.surprise\"");
        assertThat(Main.execute("--no-such-flag")).isEqualTo(2);
        assertThat(Main.execute("--proxy-mode", "warp", "--dry-run", "--from", dir.toString())).isEqualTo(2);
    }

    @Test
    void renderPrintsTheFullSyncOfAManifestFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("svc.yaml");
        Files.writeString(file, """
                apiVersion: v1
                kind: Service
                metadata: {namespace: ns1, name: svc1}
                spec:
                  clusterIP: 172.30.0.41
                  ports: [{name: p80, port: 80, protocol: TCP}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  namespace: ns1
                  name: svc1-1
                  labels: {kubernetes.io/service-name: svc1}
                addressType: IPv4
                endpoints: [{addresses: [10.180.0.1]}]
                ports: [{name: p80, port: 80, protocol: TCP}]
                """);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream old = System.out;
        int code;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            code = Main.execute("render", "--mode", "iptables", "-f", file.toString(), "--hostname-override", "n1");
        } finally {
            System.setOut(old);
        }
        assertThat(code).isEqualTo(0);
        assertThat(out.toString(StandardCharsets.UTF_8))
                .contains("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O")
                .contains("-j DNAT --to-destination 10.180.0.1:80")
                .contains("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE\n");
        assertThat(Main.execute("render", "-f", file.toString(), "--assume-features", "warp")).isEqualTo(2);
    }
}
