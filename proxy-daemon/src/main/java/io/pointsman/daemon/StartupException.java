package io.pointsman.daemon;

/** The daemon cannot start; the message says what is wrong and what was expected. */
final class StartupException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StartupException(String message) {
        super(message);
    }

    StartupException(String message, Throwable cause) {
        super(message, cause);
    }
}
