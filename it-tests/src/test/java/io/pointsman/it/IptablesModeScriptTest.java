package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.pointsman.core.testing.Kernel;
import io.pointsman.core.testing.Netns;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The image's choice of iptables backend (docker/iptables-mode.sh) on a real kernel: each case
 * is a fresh network namespace holding what a node's kubelet or an older proxy would have left
 * there, read through the real iptables-nft and iptables-legacy tools.
 */
class IptablesModeScriptTest {
    private static final Path SCRIPT = HostDaemon.repoRoot().resolve("docker").resolve("iptables-mode.sh");

    record Run(int exit, String stdout, String stderr) {
    }

    @BeforeEach
    void tools() {
        Kernel.require("ip", "iptables-nft", "iptables-legacy", "iptables-nft-save", "iptables-legacy-save",
                "ip6tables-nft-save", "ip6tables-legacy-save", "update-alternatives");
    }

    private static Run detect(Netns ns, String... env) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(ns.prefix());
        cmd.add("env");
        cmd.addAll(List.of(env));
        cmd.addAll(List.of("sh", SCRIPT.toString(), "detect"));
        ProcessBuilder b = new ProcessBuilder(cmd);
        ChildProcesses.sanitize(b.environment());
        b.environment().remove("POINTSMAN_IPTABLES_MODE");
        Process p = b.start();
        p.getOutputStream().close();
        byte[] err;
        byte[] out = p.getInputStream().readAllBytes();
        err = p.getErrorStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("detect finished").isTrue();
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip(),
                new String(err, StandardCharsets.UTF_8).strip());
    }

    @Test
    void anEmptyNodeGetsNftAndTheDetectionCreatesNoLegacyTable() throws Exception {
        try (Netns ns = Netns.create("ipm")) {
            Run r = detect(ns);
            assertThat(r.exit()).as(r.stderr()).isZero();
            assertThat(r.stdout()).isEqualTo("nft");
            assertThat(r.stderr()).contains("it holds 0 rules, legacy 0");
            // Asking for a legacy table by name would have created it (and iptables-nft warnings with it).
            assertThat(ns.exec("cat", "/proc/net/ip_tables_names").strip()).isEmpty();
            assertThat(ns.exec("cat", "/proc/net/ip6_tables_names").strip()).isEmpty();
        }
    }

    @Test
    void aNodeWhoseRulesAreLegacyGetsLegacy() throws Exception {
        try (Netns ns = Netns.create("ipm")) {
            ns.exec("iptables-legacy", "-t", "nat", "-N", "KUBE-SERVICES");
            ns.exec("iptables-legacy", "-t", "nat", "-A", "PREROUTING", "-j", "KUBE-SERVICES");
            Run r = detect(ns);
            assertThat(r.stdout()).as(r.stderr()).isEqualTo("legacy");
            assertThat(r.stderr()).contains("it holds 1 rules, nft 0");
        }
    }

    @Test
    void moreNftRulesWinOverFewerLegacyOnes() throws Exception {
        try (Netns ns = Netns.create("ipm")) {
            ns.exec("iptables-legacy", "-t", "filter", "-A", "INPUT", "-s", "192.0.2.1", "-j", "ACCEPT");
            for (int i = 1; i <= 3; i++) {
                ns.exec("iptables-nft", "-t", "filter", "-A", "INPUT", "-s", "192.0.2." + (10 + i), "-j", "ACCEPT");
            }
            Run r = detect(ns);
            assertThat(r.stdout()).as(r.stderr()).isEqualTo("nft");
            assertThat(r.stderr()).contains("it holds 3 rules, legacy 1");
        }
    }

    @Test
    void theKubeletsHintChainDecidesWhateverTheRuleCounts() throws Exception {
        try (Netns ns = Netns.create("ipm")) {
            for (int i = 1; i <= 3; i++) {
                ns.exec("iptables-nft", "-t", "filter", "-A", "INPUT", "-s", "192.0.2." + i, "-j", "ACCEPT");
            }
            ns.exec("iptables-legacy", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT");
            Run legacy = detect(ns);
            assertThat(legacy.stdout()).as(legacy.stderr()).isEqualTo("legacy");
            assertThat(legacy.stderr()).contains("hint chain is in the legacy tables");
        }
        try (Netns ns = Netns.create("ipm")) {
            ns.exec("iptables-legacy", "-t", "nat", "-N", "KUBE-SERVICES");
            ns.exec("iptables-legacy", "-t", "nat", "-A", "PREROUTING", "-j", "KUBE-SERVICES");
            ns.exec("ip6tables-nft", "-t", "mangle", "-N", "KUBE-KUBELET-CANARY");
            Run nft = detect(ns);
            assertThat(nft.stdout()).as(nft.stderr()).isEqualTo("nft");
            assertThat(nft.stderr()).contains("hint chain is in the nft tables");
        }
    }

    @Test
    void theOperatorsOverrideWinsAndABadOneStopsTheStart() throws Exception {
        try (Netns ns = Netns.create("ipm")) {
            ns.exec("iptables-nft", "-t", "filter", "-A", "INPUT", "-s", "192.0.2.1", "-j", "ACCEPT");
            assertThat(detect(ns, "POINTSMAN_IPTABLES_MODE=legacy").stdout()).isEqualTo("legacy");
            assertThat(detect(ns, "POINTSMAN_IPTABLES_MODE=auto").stdout()).isEqualTo("nft");
            Run bad = detect(ns, "POINTSMAN_IPTABLES_MODE=nf_tables");
            assertThat(bad.exit()).isEqualTo(2);
            assertThat(bad.stdout()).isEmpty();
            assertThat(bad.stderr()).contains("POINTSMAN_IPTABLES_MODE=nf_tables (expected: nft, legacy or auto)");
        }
    }

    @Test
    void theAlternativesTheScriptSelectsExistOnDebian() {
        // `select` runs update-alternatives --set iptables|ip6tables /usr/sbin/<family>-<mode>; only
        // read here (setting them would change the host's own iptables).
        for (String family : List.of("iptables", "ip6tables")) {
            String list = Netns.run(List.of("update-alternatives", "--list", family));
            assertThat(list.lines().toList()).contains("/usr/sbin/" + family + "-nft", "/usr/sbin/" + family + "-legacy");
        }
    }
}
