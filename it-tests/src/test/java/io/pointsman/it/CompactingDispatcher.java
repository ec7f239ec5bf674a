package io.pointsman.it;

import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * fabric8's CRUD dispatcher with the one API server behaviour the mock lacks: history that is
 * compacted away. The mock keeps no history, so a watch resumed from an old resourceVersion would
 * silently miss what happened in between; a real API server answers such a watch with
 * 410 Gone ("too old resource version") once that history is compacted, and the client must list
 * again. {@link #compact()} marks everything up to the current resourceVersion as compacted:
 * from then on a watch asking to resume from an older version gets 410 Gone, the way the API
 * server sends it: the watch opens and its one event is an ERROR carrying a 410 Status.
 */
final class CompactingDispatcher extends KubernetesCrudDispatcher {
    private static final Pattern RESOURCE_VERSION = Pattern.compile("[?&]resourceVersion=(\\d+)");

    private final AtomicLong compactedBelow = new AtomicLong();
    private final AtomicInteger goneAnswers = new AtomicInteger();
    private final AtomicInteger watches = new AtomicInteger();

    /** Watches from a resourceVersion lower than the current one get 410 Gone from now on. */
    void compact() {
        long current = requestResourceVersion(); // also moves the counter on, as any write would
        compactedBelow.set(current);
    }

    /** How many watch requests were answered 410 Gone. */
    int goneAnswers() {
        return goneAnswers.get();
    }

    /** How many watch requests arrived (answered or not). */
    int watches() {
        return watches.get();
    }

    @Override
    public MockResponse handleWatch(String path) {
        watches.incrementAndGet();
        Matcher m = RESOURCE_VERSION.matcher(path);
        long below = compactedBelow.get();
        if (below > 0 && m.find() && Long.parseLong(m.group(1)) < below) {
            goneAnswers.incrementAndGet();
            // As the API server does: the watch opens, then one ERROR event carries the 410 Status.
            String event = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                    + "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: " + m.group(1)
                    + " (" + below + ")\",\"reason\":\"Expired\",\"code\":410}}";
            return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
                @Override
                public void onOpen(WebSocket webSocket, Response response) {
                    webSocket.send(event);
                    webSocket.close(1000, "");
                }
            });
        }
        return super.handleWatch(path);
    }
}
