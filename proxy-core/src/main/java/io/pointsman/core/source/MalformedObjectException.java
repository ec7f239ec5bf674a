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
        super(describe(kind, namespace, name) + ": " + problem);
        this.kind = requireNonNull(kind, "kind");
        this.namespace = namespace == null ? "" : namespace;
        this.name = name == null ? "" : name;
        this.problem = requireNonNull(problem, "problem");
    }

    /** "Service ns1/svc1", "Node node-a", or "Service <unnamed>" when the name is missing. */
    static String describe(String kind, String namespace, String name) {
        String n = name == null || name.isEmpty() ? "<unnamed>" : name;
        return namespace == null || namespace.isEmpty() ? kind + " " + n : kind + " " + namespace + "/" + n;
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
