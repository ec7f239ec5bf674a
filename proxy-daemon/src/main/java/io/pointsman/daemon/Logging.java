package io.pointsman.daemon;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/** Maps upstream's {@code -v} levels onto logback. */
final class Logging {
    private Logging() {
    }

    static void configure(int verbosity) {
        SLF4JBridgeHandler.removeHandlersForRootLogger();
        SLF4JBridgeHandler.install();
        Level level = verbosity >= 6 ? Level.TRACE : verbosity >= 4 ? Level.DEBUG : Level.INFO;
        ((Logger) LoggerFactory.getLogger("io.pointsman")).setLevel(level);
    }
}
