package io.pointsman.core.model;

/** An IP address family, named as upstream's metrics label it. */
public enum IpFamily {
    IPv4, IPv6;

    public static IpFamily of(String canonicalIp) {
        return canonicalIp.indexOf(':') >= 0 ? IPv6 : IPv4;
    }

    /** Parses an EndpointSlice addressType; FQDN and unknown types answer null (not proxied). */
    public static IpFamily fromAddressType(String addressType) {
        if ("IPv4".equals(addressType)) {
            return IPv4;
        }
        if ("IPv6".equals(addressType)) {
            return IPv6;
        }
        return null;
    }
}
