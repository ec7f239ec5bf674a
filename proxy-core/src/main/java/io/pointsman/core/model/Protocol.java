package io.pointsman.core.model;

import java.util.Locale;

/** Transport protocols a Service port can use. */
public enum Protocol {
    TCP, UDP, SCTP;

    /** Lower-case name as iptables and upstream's chain hashes spell it ("tcp"). */
    public String lower() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a Kubernetes protocol name; an absent protocol means TCP, as the API defaults it. */
    public static Protocol parse(String value) {
        if (value == null || value.isEmpty()) {
            return TCP;
        }
        for (Protocol p : values()) {
            if (p.name().equals(value)) {
                return p;
            }
        }
        throw new IllegalArgumentException("protocol: " + value + " (expected: TCP, UDP or SCTP)");
    }
}
