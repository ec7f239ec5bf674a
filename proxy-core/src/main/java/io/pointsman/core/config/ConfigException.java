package io.pointsman.core.config;

/** A configuration value or field was wrong; the message names it and what was expected. */
public class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
