package io.pointsman.it;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.util.HashMap;

/** fabric8's mock API server in CRUD mode (plain HTTP) on the host's 127.0.0.1, and a client for it. */
final class MockApi implements AutoCloseable {
    private final KubernetesMockServer server;
    private final KubernetesClient client;

    private MockApi(KubernetesMockServer server, KubernetesClient client) {
        this.server = server;
        this.client = client;
    }

    static MockApi start() {
        return start(new KubernetesCrudDispatcher());
    }

    /** Same, with a CRUD dispatcher of the test's choice (e.g. {@link CompactingDispatcher}). */
    static MockApi start(KubernetesCrudDispatcher dispatcher) {
        // The last argument is "useHttps"; CRUD mode comes from the dispatcher.
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                dispatcher, false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        try {
            return new MockApi(server, server.createClient());
        } catch (RuntimeException e) {
            server.destroy();
            throw e;
        }
    }

    int port() {
        return server.getPort();
    }

    KubernetesClient client() {
        return client;
    }

    /** Requests the server received so far (from every client). */
    int requestCount() {
        return server.getRequestCount();
    }

    @Override
    public void close() {
        try {
            client.close();
        } finally {
            server.destroy();
        }
    }
}
