package io.pointsman.core.source;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds the Kubernetes API client the way kube-proxy's --kubeconfig and --master flags do. */
public final class KubeClients {
    private static final Logger log = LoggerFactory.getLogger(KubeClients.class);
    /** First pause before a lost watch is re-opened; fabric8 doubles it up to 32 times. */
    static final int WATCH_RECONNECT_INTERVAL_MS = 250;

    private KubeClients() {
    }

    /**
     * A client configured from, in this order: the {@code kubeconfig} flag, $KUBECONFIG (first
     * existing file of the list), ~/.kube/config, else the in-cluster service account.
     * {@code master}, when not empty, overrides the server URL. Credentials are never logged.
     *
     * @throws IllegalArgumentException when the kubeconfig flag names a file that does not exist
     */
    public static KubernetesClient create(String kubeconfig, String master) {
        Optional<Path> file = kubeconfigFile(kubeconfig, System.getenv("KUBECONFIG"), System.getProperty("user.home"));
        Config config = config(file, master);
        log.info("Kubernetes API {} ({})", config.getMasterUrl(),
                file.map(p -> "kubeconfig " + p).orElse("in-cluster service account"));
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    /** The client configuration {@link #create} uses; no network access. */
    public static Config config(Optional<Path> kubeconfigFile, String master) {
        Config config;
        if (kubeconfigFile.isPresent()) {
            config = Config.fromKubeconfig((String) null, kubeconfigFile.get().toFile());
        } else {
            // No kubeconfig file exists (kubeconfigFile checked $KUBECONFIG and ~/.kube/config), so
            // fabric8's auto-configuration falls through to the in-cluster service account, and
            // keeps re-reading its projected token, which the kubelet rotates.
            config = Config.autoConfigure(null);
        }
        if (master != null && !master.isEmpty()) {
            config.setMasterUrl(master);
        }
        if (System.getProperty(Config.KUBERNETES_WATCH_RECONNECT_INTERVAL_SYSTEM_PROPERTY) == null) {
            // fabric8 doubles the pause between watch reconnects up to 32 times this interval: from
            // the default 1 s that is 32 s, so changes made during a long API outage could wait half a
            // minute after it ends. From 250 ms the pause tops out at 8 s. The attempt rate meanwhile
            // stays low: each attempt is itself retried with backoff (100 ms doubling to 3.2 s).
            config.setWatchReconnectInterval(WATCH_RECONNECT_INTERVAL_MS);
        }
        return config;
    }

    /**
     * Which kubeconfig file to use: the flag (must exist), else the first existing file of
     * {@code kubeconfigEnv} (a path list), else {@code home}/.kube/config if it exists, else none.
     */
    public static Optional<Path> kubeconfigFile(String flag, String kubeconfigEnv, String home) {
        if (flag != null && !flag.isEmpty()) {
            Path p = Path.of(flag);
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("--kubeconfig " + flag
                        + ": no such file (expected: a readable kubeconfig file)");
            }
            return Optional.of(p);
        }
        if (kubeconfigEnv != null && !kubeconfigEnv.isEmpty()) {
            for (String entry : kubeconfigEnv.split(File.pathSeparator)) {
                if (!entry.isEmpty() && Files.isRegularFile(Path.of(entry))) {
                    return Optional.of(Path.of(entry));
                }
            }
            log.warn("KUBECONFIG={} names no existing file; trying ~/.kube/config", kubeconfigEnv);
        }
        if (home != null && !home.isEmpty()) {
            Path p = Path.of(home, ".kube", "config");
            if (Files.isRegularFile(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
