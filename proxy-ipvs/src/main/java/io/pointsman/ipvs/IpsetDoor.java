package io.pointsman.ipvs;

/** The door to the kernel's ipsets through the {@code ipset} tool: save to read, restore to write. */
public interface IpsetDoor {

    /** The output of {@code ipset save} (every set of the network namespace). */
    String save() throws IpsetException;

    /** Runs {@code ipset -exist restore} with {@code script} on stdin; all lines or an error naming the line. */
    void restore(String script) throws IpsetException;

    /** Whether nothing reaches the kernel. */
    default boolean dryRun() {
        return false;
    }
}
