package io.pointsman.ipvs.netlink;

/**
 * A netlink operation failed. Names the operation and, for kernel refusals, the errno, e.g.
 * {@code IPVS_CMD_NEW_SERVICE 10.96.0.1:80/TCP: EEXIST (17)}.
 */
public class NetlinkException extends Exception {
    private static final long serialVersionUID = 1L;
    private final String operation;
    private final int errno;

    /** A kernel error reply (errno positive) with the kernel's extended-ack text, "" when none. */
    public NetlinkException(String operation, int errno, String kernelMessage) {
        super(operation + ": " + Errno.name(errno) + " (" + Math.abs(errno) + ")"
                + (kernelMessage == null || kernelMessage.isEmpty() ? "" : ": " + kernelMessage));
        this.operation = operation;
        this.errno = Math.abs(errno);
    }

    /** A failure that is not a kernel errno (malformed reply, timeout, I/O). */
    public NetlinkException(String operation, String problem) {
        super(operation + ": " + problem);
        this.operation = operation;
        this.errno = 0;
    }

    public String operation() {
        return operation;
    }

    /** The positive errno, 0 when the failure was not a kernel error reply. */
    public int errno() {
        return errno;
    }
}
