package io.pointsman.ipvs.kernel;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;

/**
 * One IPVS destination (real server) of a virtual service. The connection counters are read
 * from the kernel and never written.
 *
 * @param forwardMethod IP_VS_CONN_F_* forwarding method ({@link Ipvs#CONN_F_MASQ} = NAT)
 */
public record RealServer(String address, int port, int weight, int forwardMethod, int upperThreshold,
                         int lowerThreshold, int activeConnections, int inactiveConnections) {

    public RealServer {
        address = IpAddresses.canonical(requireNonNull(address, "address"));
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("destination port: " + port + " (expected: 0-65535)");
        }
        if (weight < 0) {
            throw new IllegalArgumentException("destination weight: " + weight + " (expected: >= 0)");
        }
    }

    /** A NAT destination with {@code weight} and no thresholds. */
    public static RealServer masq(String address, int port, int weight) {
        return new RealServer(address, port, weight, Ipvs.CONN_F_MASQ, 0, 0, 0, 0);
    }

    public IpFamily family() {
        return IpFamily.of(address);
    }

    /** "ip:port" / "[ip]:port": the destination's identity within its service. */
    public String hostPort() {
        return (address.indexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + port;
    }

    /** Whether the writable settings (weight, method, thresholds) equal {@code other}'s. */
    public boolean sameSettings(RealServer other) {
        return weight == other.weight && forwardMethod == other.forwardMethod
                && upperThreshold == other.upperThreshold && lowerThreshold == other.lowerThreshold;
    }

    public RealServer withWeight(int newWeight) {
        return new RealServer(address, port, newWeight, forwardMethod, upperThreshold, lowerThreshold,
                activeConnections, inactiveConnections);
    }

    public int connections() {
        return activeConnections + inactiveConnections;
    }

    @Override
    public String toString() {
        return hostPort() + " w" + weight + (forwardMethod == Ipvs.CONN_F_MASQ ? "" : " fwd" + forwardMethod)
                + " conns " + activeConnections + "/" + inactiveConnections;
    }
}
