package io.pointsman.core.testing;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Assumptions;

/**
 * Preconditions of tests that run a command-line tool but need neither root nor a kernel
 * namespace (e.g. promtool). In CI ({@code CI=true}) a missing tool fails the test; elsewhere
 * the test is skipped with the reason.
 */
public final class Tools {
    private Tools() {
    }

    /** Requires every named tool on the PATH (also /sbin and /usr/sbin). */
    public static void require(String... tools) {
        for (String tool : tools) {
            if (Kernel.which(tool) == null) {
                String missing = "tool " + tool + " not found on PATH (install it with apt-get; see scripts/install-test-tools.sh)";
                if (Kernel.inCi()) {
                    fail("test cannot run in CI: " + missing);
                }
                Assumptions.assumeTrue(false, "skipped outside CI: " + missing);
            }
        }
    }
}
