package io.pointsman.core.source;

import static java.util.Objects.requireNonNull;

/**
 * A Kubernetes object that cannot be turned into Pointsman's model. The message names the object
 * ("Service ns1/svc1"), what is wrong with it and what was expected, so one log line says it all.
 * Unchecked: the tracker catches it per object and keeps programming every other object.
 */
public final class MalformedObjectException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String kind;
    private final String namespace;
    private final String name;
    private final String problem;

    /**
     * @param namespace "" for cluster-scoped objects
     * @param problem e.g. {@code spec.ports[0].port: 0 (expected: 1-65535)}
     */
    public MalformedObjectException(String kind, String namespace, String name, String problem) {
        super(describe(kind, namespace, name) + ": " + printable(requireNonNull(problem, "problem")));
        this.kind = requireNonNull(kind, "kind");
        this.namespace = namespace == null ? "" : namespace;
        this.name = name == null ? "" : name;
        this.problem = printable(problem);
    }

    /**
     * "Service ns1/svc1", "Node node-a", or "Service <unnamed>" when the name is missing. Names that
     * no API server would accept are shown {@link #printable} (escaped, shortened).
     */
    static String describe(String kind, String namespace, String name) {
        String n = name == null || name.isEmpty() ? "<unnamed>" : printable(name);
        return namespace == null || namespace.isEmpty() ? kind + " " + n : kind + " " + printable(namespace) + "/" + n;
    }

    /** Longest text an object's value may add to a log line. */
    static final int MAX_PRINTED = 300;

    /**
     * {@code text} safe for one log line: control characters escaped (a newline as backslash-n,
     * others as backslash-u and four hex digits), and cut after {@value #MAX_PRINTED} characters
     * with the full length noted. A hostile value can neither forge log lines nor flood the log.
     */
    public static String printable(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX_PRINTED) + 16);
        for (int i = 0; i < text.length() && b.length() < MAX_PRINTED; i++) {
            char c = text.charAt(i);
            if (c == '\n') {
                b.append("\\n");
            } else if (c == '\r') {
                b.append("\\r");
            } else if (c == '\t') {
                b.append("\\t");
            } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029') {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
            if (b.length() >= MAX_PRINTED && i + 1 < text.length()) {
                b.append("... (").append(text.length()).append(" characters)");
                break;
            }
        }
        return b.toString();
    }

    public String kind() {
        return kind;
    }

    public String namespace() {
        return namespace;
    }

    public String name() {
        return name;
    }

    /** What is wrong, without the object's name. */
    public String problem() {
        return problem;
    }
}
