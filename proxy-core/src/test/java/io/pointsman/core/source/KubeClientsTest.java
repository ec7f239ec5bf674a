package io.pointsman.core.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class KubeClientsTest {
    private static final String TOKEN = "s3cr3t-t0ken-value";

    @TempDir
    Path dir;

    private Path kubeconfig(String name, String server) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: c
                  cluster: {server: "%s", insecure-skip-tls-verify: true}
                users:
                - name: u
                  user: {token: %s}
                contexts:
                - name: ctx
                  context: {cluster: c, user: u}
                current-context: ctx
                """.formatted(server, TOKEN));
        return p;
    }

    @Test
    void kubeconfigLookupOrder() throws IOException {
        Path flag = kubeconfig("flag", "https://flag.example:6443");
        Path env = kubeconfig("env", "https://env.example:6443");
        Path home = Files.createDirectories(dir.resolve("home/.kube"));
        Path homeConfig = kubeconfig("home/.kube/config", "https://home.example:6443");
        String homeDir = dir.resolve("home").toString();

        assertThat(KubeClients.kubeconfigFile(flag.toString(), env.toString(), homeDir)).contains(flag);
        assertThat(KubeClients.kubeconfigFile("", dir.resolve("missing") + File.pathSeparator + env, homeDir))
                .contains(env);
        assertThat(KubeClients.kubeconfigFile(null, null, homeDir)).contains(homeConfig);
        assertThat(KubeClients.kubeconfigFile("", "", dir.resolve("nohome").toString())).isEmpty();
        assertThat(home).isDirectory();
        assertThatThrownBy(() -> KubeClients.kubeconfigFile(dir.resolve("absent").toString(), null, homeDir))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--kubeconfig ").hasMessageContaining("no such file (expected: a readable kubeconfig file)");
    }

    @Test
    void masterOverridesTheServer() throws IOException {
        Path flag = kubeconfig("flag", "https://flag.example:6443");
        Config plain = KubeClients.config(Optional.of(flag), "");
        assertThat(plain.getMasterUrl()).startsWith("https://flag.example:6443");
        assertThat(plain.getOauthToken() != null ? plain.getOauthToken() : plain.getAutoOAuthToken()).isEqualTo(TOKEN);
        Config overridden = KubeClients.config(Optional.of(flag), "https://master.example:443");
        assertThat(overridden.getMasterUrl()).startsWith("https://master.example");
    }

    @Test
    void lostWatchesAreRetriedWithinSecondsOfTheApisReturn() throws IOException {
        // fabric8 doubles the pause up to 32 times the interval: 8 s at most, not 32 s.
        Config config = KubeClients.config(Optional.of(kubeconfig("flag", "https://flag.example:6443")), "");
        assertThat(config.getWatchReconnectInterval()).isEqualTo(KubeClients.WATCH_RECONNECT_INTERVAL_MS);
        assertThat(config.getWatchReconnectInterval() * 32L).isLessThanOrEqualTo(8_000L);
    }

    @Test
    void creatingAClientNeverLogsTheToken() throws IOException {
        Path flag = kubeconfig("flag", "https://flag.example:6443");
        Logger logger = (Logger) LoggerFactory.getLogger(KubeClients.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try (KubernetesClient client = KubeClients.create(flag.toString(), "")) {
            assertThat(client.getConfiguration().getMasterUrl()).startsWith("https://flag.example:6443");
        } finally {
            logger.detachAppender(appender);
        }
        assertThat(appender.list).isNotEmpty();
        assertThat(appender.list).allSatisfy(e -> assertThat(e.getFormattedMessage()).doesNotContain(TOKEN));
        assertThat(appender.list.get(0).getFormattedMessage()).contains("flag.example", "kubeconfig");
    }
}
