package io.pointsman.nftables.netlink;

/** A netlink call failed; carries the errno (0 when none) and the kernel's own text when it sent one. */
public final class NetlinkException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public NetlinkException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
