package io.pointsman.core.spi;

/** Applying a sync failed; the message says what failed and what was kept. */
public class SyncException extends Exception {
    private static final long serialVersionUID = 1L;

    public SyncException(String message) {
        super(message);
    }

    public SyncException(String message, Throwable cause) {
        super(message, cause);
    }
}
