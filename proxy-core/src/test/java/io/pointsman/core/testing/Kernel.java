package io.pointsman.core.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * Preconditions of tests that need root and a real kernel. In CI ({@code CI=true}) a missing
 * precondition fails the test; elsewhere the test is skipped with the reason.
 */
public final class Kernel {
    private Kernel() {
    }

    public static boolean inCi() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** Requires root and every named tool on the PATH. */
    public static void require(String... tools) {
        String missing = missing(tools);
        if (missing == null) {
            return;
        }
        if (inCi()) {
            fail("kernel test cannot run in CI: " + missing);
        }
        Assumptions.assumeTrue(false, "skipped outside CI: " + missing);
    }

    private static String missing(String... tools) {
        if (!isRoot()) {
            return "not running as root (user " + System.getProperty("user.name") + ")";
        }
        for (String tool : tools) {
            if (which(tool) == null) {
                return "tool " + tool + " not found on PATH (install it with apt-get; see .ci/run)";
            }
        }
        return null;
    }

    public static boolean isRoot() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            return Integer.valueOf(0).equals(uid);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** The absolute path of a tool on the PATH (also /sbin and /usr/sbin), or null. */
    public static Path which(String tool) {
        String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/sbin:/sbin";
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }
}
