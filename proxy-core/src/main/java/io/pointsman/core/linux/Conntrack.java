package io.pointsman.core.linux;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;
import java.util.List;

/**
 * The door to the kernel's connection tracking table: list flows, delete flows by an exact
 * filter. One implementation runs the {@code conntrack} tool, one only logs (dry run).
 */
public interface Conntrack {

    /** Every flow of one family and protocol. */
    List<ConntrackFlow> list(IpFamily family, Protocol protocol) throws ConntrackException;

    /** Deletes the flows {@code filter} matches; answers how many were deleted. */
    int delete(Filter filter) throws ConntrackException;

    /** True when nothing reaches the kernel (dry run). */
    default boolean dryRun() {
        return false;
    }

    /**
     * Flows of one service destination answered by one source: original destination
     * {@code origDst:origDstPort}, reply source {@code replySrc:replySrcPort}.
     */
    record Filter(IpFamily family, Protocol protocol, String origDst, int origDstPort, String replySrc,
                  int replySrcPort) {
        public Filter {
            requireNonNull(family, "family");
            requireNonNull(protocol, "protocol");
            origDst = IpAddresses.canonical(origDst);
            replySrc = IpAddresses.canonical(replySrc);
            if (IpFamily.of(origDst) != family || IpFamily.of(replySrc) != family) {
                throw new IllegalArgumentException("conntrack filter " + origDst + " / " + replySrc
                        + ": (expected: " + family + " addresses)");
            }
            checkPort("origDstPort", origDstPort);
            checkPort("replySrcPort", replySrcPort);
        }

        private static void checkPort(String what, int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException(what + ": " + port + " (expected: 1-65535)");
            }
        }

        @Override
        public String toString() {
            return protocol.lower() + " to " + ConntrackFlow.hostPort(origDst, origDstPort) + " answered by "
                    + ConntrackFlow.hostPort(replySrc, replySrcPort);
        }
    }
}
