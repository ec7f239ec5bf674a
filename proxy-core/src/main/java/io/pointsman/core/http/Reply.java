package io.pointsman.core.http;

import java.nio.charset.StandardCharsets;

/** One HTTP answer of Pointsman's own endpoints. */
record Reply(int status, String contentType, byte[] body) {
    static final String TEXT = "text/plain; charset=utf-8";
    static final String JSON = "application/json";

    static Reply text(int status, String body) {
        return new Reply(status, TEXT, body.getBytes(StandardCharsets.UTF_8));
    }

    static Reply json(int status, String body) {
        return new Reply(status, JSON, body.getBytes(StandardCharsets.UTF_8));
    }
}
