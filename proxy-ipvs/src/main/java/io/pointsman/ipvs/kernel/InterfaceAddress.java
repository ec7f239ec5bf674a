package io.pointsman.ipvs.kernel;

import io.pointsman.core.model.IpFamily;

/** One address of one interface, as RTM_GETADDR reports it. */
public record InterfaceAddress(int index, String address, int prefixLength, int scope, String label) {
    public IpFamily family() {
        return IpFamily.of(address);
    }
}
