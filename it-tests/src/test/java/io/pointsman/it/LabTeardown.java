package io.pointsman.it;

/** Closing a lab's parts in order, each one even when an earlier one throws. */
final class LabTeardown {
    private LabTeardown() {
    }

    /** Closes every non-null part in the given order; the first failure is rethrown at the end. */
    static void closeAll(AutoCloseable... parts) {
        RuntimeException first = null;
        for (AutoCloseable part : parts) {
            if (part == null) {
                continue;
            }
            try {
                part.close();
            } catch (Exception e) {
                RuntimeException r = e instanceof RuntimeException re ? re
                        : new IllegalStateException("closing " + part.getClass().getSimpleName() + ": " + e.getMessage(), e);
                if (first == null) {
                    first = r;
                } else {
                    first.addSuppressed(r);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
