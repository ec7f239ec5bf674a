package io.pointsman.ipvs;

/** Running {@code ipset} failed; the message names the command and the tool's error. */
public class IpsetException extends Exception {
    private static final long serialVersionUID = 1L;

    public IpsetException(String message) {
        super(message);
    }

    public IpsetException(String message, Throwable cause) {
        super(message, cause);
    }
}
