package io.pointsman.core.linux;

/** {@code nft} refused a script or a listing, or could not be run. */
public class NftException extends Exception {
    private static final long serialVersionUID = 1L;

    public NftException(String message) {
        super(message);
    }

    public NftException(String message, Throwable cause) {
        super(message, cause);
    }
}
