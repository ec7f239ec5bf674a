package io.pointsman.core.config;

import io.pointsman.core.model.IpAddresses;

/** A bind address "ip:port" or "[ipv6]:port". */
public record HostPort(String host, int port) {

    public static HostPort parse(String field, String value) {
        int colon = value.lastIndexOf(':');
        if (colon <= 0) {
            throw new ConfigException(field + ": \"" + value + "\" (expected: ip:port, e.g. 127.0.0.1:10249)");
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535 || !IpAddresses.isValid(host)) {
            throw new ConfigException(field + ": \"" + value + "\" (expected: ip:port, e.g. 127.0.0.1:10249)");
        }
        return new HostPort(host, port);
    }
}
