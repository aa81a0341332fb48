package dev.migrationd.daemon;

/** A bad configuration value or file; the message is one line naming the key, the value and what is accepted. */
public final class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message);
    }
}
