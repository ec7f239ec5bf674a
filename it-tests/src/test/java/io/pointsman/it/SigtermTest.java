package io.pointsman.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged daemon stops on SIGTERM (what the kubelet sends, and what PID 1 in the image gets)
 * the way kube-proxy does: it stops syncing, leaves the rules in place, and exits 0, quickly.
 */
class SigtermTest {

    @Test
    void sigtermStopsTheDaemonWithExitCodeZeroAndAStoppingLine(@TempDir Path tmp) throws Exception {
        Path examples = HostDaemon.repoRoot().resolve("examples");
        try (HostDaemon daemon = HostDaemon.start(tmp.resolve("daemon.log"), "--from", examples.toString())) {
            await("first sync").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .failFast("the daemon exited:\n" + daemon.describe(), () -> !daemon.process().isAlive())
                    .until(() -> daemon.log().contains("full sync:"));
            assertThat(daemon.metrics("/proxyMode")).isEqualTo("200 iptables");

            long t0 = System.nanoTime();
            daemon.process().destroy(); // SIGTERM on Linux
            boolean exited = daemon.process().waitFor(10, TimeUnit.SECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

            assertThat(exited).as("exited within 10 s of SIGTERM\n" + daemon.describe()).isTrue();
            assertThat(daemon.process().exitValue()).as("exit code after SIGTERM\n" + daemon.describe()).isZero();
            assertThat(ms).as("time to exit, ms").isLessThan(5_000);
            assertThat(daemon.log()).contains("stopping: rules stay in place");
            // Nothing after the signal tore rules down: a dry run logs every payload it would apply.
            String afterStop = daemon.log().substring(daemon.log().indexOf("stopping: rules stay in place"));
            assertThat(afterStop).doesNotContain("*nat").doesNotContain("-X KUBE");
        }
    }
}
