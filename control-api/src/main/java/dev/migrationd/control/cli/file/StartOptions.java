package dev.migrationd.control.cli.file;

import java.util.UUID;
import picocli.CommandLine.Option;

/** The options of a command that starts a daemon operation it then follows (save, restore); a picocli mixin. */
final class StartOptions {

    @Option(names = "--detach", description = "Print the operation id and return once it has started.")
    boolean detach;

    @Option(names = "--idempotency-key", paramLabel = "KEY",
            description = "Key that makes a retried start return the same operation (default: a fresh UUID).")
    String idempotencyKey;

    /** The key to send: the given one, or a fresh UUID (so that the CLI's own retries are safe). */
    String key() {
        return idempotencyKey != null ? idempotencyKey : UUID.randomUUID().toString();
    }
}
