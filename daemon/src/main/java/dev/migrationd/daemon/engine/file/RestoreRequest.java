package dev.migrationd.daemon.engine.file;

import dev.migrationd.daemon.engine.run.MigrationRequest;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Restore a domain from a save file.
 *
 * <p>A legacy stream carries neither the guest type nor the vCPU count up front, so the file's
 * metadata comes from a small sidecar written by {@link dev.migrationd.daemon.engine.MigrationEngine#save} ({@code FILE.meta}); for a
 * file from elsewhere the caller states the shape.
 *
 * @param file   the save file
 * @param name   the new domain's name (must be free)
 * @param paused  leave the domain paused after the restore
 * @param newUuid give the domain a new UUID (a copy of the saved guest); otherwise a saved UUID already
 *                running here is refused
 */
public record RestoreRequest(Path file, String name, boolean paused, boolean newUuid) {
    public RestoreRequest {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(name, "name");
        MigrationRequest.checkName("domain name", name);
    }

    /** Keeping the saved UUID. */
    public RestoreRequest(Path file, String name, boolean paused) {
        this(file, name, paused, false);
    }
}
