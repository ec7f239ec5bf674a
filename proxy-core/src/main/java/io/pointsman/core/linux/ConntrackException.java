package io.pointsman.core.linux;

/** Listing or deleting conntrack entries failed; the message names the command and its error. */
public class ConntrackException extends Exception {
    private static final long serialVersionUID = 1L;

    public ConntrackException(String message) {
        super(message);
    }

    public ConntrackException(String message, Throwable cause) {
        super(message, cause);
    }
}
