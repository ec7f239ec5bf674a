package io.pointsman.core.linux;

import java.io.IOException;
import java.util.regex.Pattern;

/**
 * Kernel parameters under /proc/sys, named as sysctl(8) names them ("net.ipv4.conf.all.route_localnet")
 * or as paths below /proc/sys ("net/ipv4/conf/eth0.100/route_localnet", for names with dots).
 * Net parameters belong to the network namespace of the process that reads or writes them.
 */
public interface Sysctl {
    /** Dotted or slashed names of plain segments: no "..", no leading or trailing separator. */
    Pattern NAME = Pattern.compile("[A-Za-z0-9_-]+([./][A-Za-z0-9_.-]+)*");

    /** The current value, trimmed. */
    String read(String name) throws IOException;

    /** Sets the value. */
    void write(String name, String value) throws IOException;

    /** The path below /proc/sys of a sysctl name; refuses anything that could leave /proc/sys. */
    static String path(String name) {
        if (name == null || !NAME.matcher(name).matches() || name.contains("..")) {
            throw new IllegalArgumentException("sysctl name: \"" + name
                    + "\" (expected: e.g. net.ipv4.conf.all.route_localnet or net/ipv4/conf/all/route_localnet)");
        }
        return name.indexOf('/') >= 0 ? name : name.replace('.', '/');
    }
}
