package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import io.pointsman.core.testing.Kernel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs the shared upstream-conformance check ({@code ../shared/conformance/iptables/check.sh})
 * against the packaged daemon's {@code render}. CI lays shared/ beside the clone; elsewhere the
 * test skips when it is absent.
 */
class ConformanceCheckTest {

    static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("pointsman"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (expected the ./pointsman launcher)");
        }
        return p;
    }

    @Test
    void renderMatchesUpstreamExpectedRules() throws IOException, InterruptedException {
        Path root = repoRoot();
        Path check = root.resolveSibling("shared").resolve("conformance/iptables/check.sh");
        if (!Files.isRegularFile(check)) {
            String why = "no conformance check at " + check;
            if (Kernel.inCi()) {
                fail(why + " (CI lays shared/ beside the clone)");
            }
            Assumptions.assumeTrue(false, "skipped: " + why);
        }
        Path jar = Daemon.jar();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder("bash", check.toString()).directory(root.toFile()).redirectErrorStream(true);
        pb.environment().put("POINTSMAN", java + " -jar " + jar);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).as("check.sh finished").isTrue();
        // The check's own summary line stays out of the build log unless it fails.
        assertThat(p.exitValue()).as("check.sh output:%n%s", out).isZero();
        assertThat(out).contains("ok   01-overall").contains("ok   03-bad-ips");
    }
}
