package io.pointsman.ipvs.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import io.pointsman.core.testing.Kernel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The IPVS backend against a real IPVS kernel: boots Debian's kernel in a throwaway VM
 * ({@code ../shared/vm/run-in-vm.sh} beside the repository) and runs {@link IpvsVmCheck} there,
 * then asserts every check it reports. This machine's own kernel has no IPVS.
 */
class IpvsVmTest {
    /** Every check the guest program must report as OK. */
    static final List<String> CHECKS = List.of(
            "services-created", "ipvsadm-agrees-with-java-dump", "kernel-equals-desired",
            "persistence-for-client-ip-affinity", "nodeport-destinations", "addresses-bound-java",
            "addresses-bound-ip", "ipsets", "iptables-rules", "timeouts-set-config",
            "clusterip-reaches-both-backends", "nodeport-reaches-both-backends", "client-ip-affinity-sticks",
            "restart-changes-nothing", "held-connection-on-b2", "removed-tcp-destination-drains-at-weight-0",
            "removed-udp-destination-deleted-at-once", "ipvsadm-shows-weight-0",
            "no-new-connections-to-draining-destination", "drained-destination-deleted-when-idle",
            "partial-sync-repairs-services-and-addresses", "full-sync-repairs-weights", "traffic-after-repair",
            "duplicate-service-is-eexist", "unknown-scheduler-refused", "probe-service-removed",
            "draining-destination-deleted-after-bound", "multi-datagram-dump", "cleanup");

    @Test
    @Timeout(value = 420, unit = TimeUnit.SECONDS)
    void theBackendProgramsARealIpvsKernel() throws Exception {
        Kernel.require("ipvsadm", "ipset", "iptables-restore", "ip6tables-restore", "socat", "ip");
        Path script = vmScript();
        if (!Files.isExecutable(script)) {
            String why = "VM script not found at " + script + " (expected: shared/ beside the repository)";
            if (Kernel.inCi()) {
                fail(why);
            }
            Assumptions.assumeTrue(false, why);
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(script.toString(), "-m", "1536", "--", java,
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                "-Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener",
                "-cp", System.getProperty("java.class.path"), IpvsVmCheck.class.getName()));
        Path log = Path.of("target", "ipvs-vm.log");
        Files.createDirectories(log.getParent());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(400, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("VM run did not finish within 400 s; output so far in " + log.toAbsolutePath());
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("VM exit status (125 = the VM failed); output:\n%s", out).isNotEqualTo(125);
        List<String> failures = new ArrayList<>();
        for (String check : CHECKS) {
            if (!out.lines().anyMatch(l -> l.equals("CHECK " + check + " OK"))) {
                failures.add(check);
            }
        }
        assertThat(failures).as("checks not reported OK; guest output:\n%s", out).isEmpty();
        assertThat(out).as("guest output").containsPattern("RESULT (\\d+)/\\1 ");
        assertThat(p.exitValue()).isZero();
    }

    /** ../shared/vm/run-in-vm.sh relative to the repository root (the parent of this module). */
    static Path vmScript() throws IOException {
        Path module = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().normalize();
        Path root = Files.exists(module.resolve("pom.xml")) && module.getFileName().toString().equals("proxy-ipvs")
                ? module.getParent() : module;
        return root.resolve("../shared/vm/run-in-vm.sh").normalize();
    }
}
