package io.pointsman.ipvs.kernel;

import static java.util.Objects.requireNonNull;

import io.pointsman.core.model.IpAddresses;
import io.pointsman.core.model.IpFamily;
import io.pointsman.core.model.Protocol;

/**
 * What identifies an IPVS virtual service: protocol, virtual address (canonical), port.
 * {@link #toString()} is "10.96.0.1:80/TCP" ("[fd00::1]:80/TCP"), as operations and logs name it.
 */
public record ServiceKey(Protocol protocol, String address, int port) implements Comparable<ServiceKey> {

    public ServiceKey {
        requireNonNull(protocol, "protocol");
        address = IpAddresses.canonical(requireNonNull(address, "address"));
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("virtual service port: " + port + " (expected: 0-65535)");
        }
    }

    public IpFamily family() {
        return IpFamily.of(address);
    }

    @Override
    public String toString() {
        return (address.indexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + port + "/" + protocol;
    }

    @Override
    public int compareTo(ServiceKey o) {
        int c = address.compareTo(o.address);
        if (c == 0) {
            c = Integer.compare(port, o.port);
        }
        return c != 0 ? c : protocol.compareTo(o.protocol);
    }
}
