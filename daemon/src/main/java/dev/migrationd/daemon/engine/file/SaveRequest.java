package dev.migrationd.daemon.engine.file;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Save a domain to a file in a save-stream format (the same bytes a migration sends).
 *
 * @param domain       the domain's name
 * @param file         the file to write; refused if it exists unless {@code overwrite}
 * @param format       legacy (default) or v2
 * @param live         pre-copy while the guest runs, then pause for the final round; otherwise pause first
 * @param leaveRunning keep the domain afterwards (resumed), like {@code xl save -c}; otherwise it is destroyed
 *                     once the file is complete and synced
 * @param overwrite    replace an existing file
 * @param bandwidthCap bytes per second the file is written at, at most (0 = as fast as it goes), to bound the
 *                     save's load on the host's disks
 * @param xlFile       write the file as {@code xl save} does, for {@code xl restore}: xl's header with the domain's
 *                     libxl configuration, then a libxl v2 stream (needs {@code format} v2)
 */
public record SaveRequest(String domain, Path file, MigrationOptions.StreamFormat format, boolean live,
                          boolean leaveRunning, boolean overwrite, long bandwidthCap, boolean xlFile) {
    public SaveRequest {
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        if (xlFile && format != MigrationOptions.StreamFormat.V2) {
            throw new IllegalArgumentException("an xl save file holds a v2 stream (libxl layer); the legacy format cannot be "
                    + "used for it");
        }
        if (bandwidthCap < 0) {
            throw new IllegalArgumentException("bandwidth cap must not be negative: " + bandwidthCap);
        }
    }

    /** A save in migrationd's own layout (the bare stream and {@code FILE.meta}). */
    public SaveRequest(String domain, Path file, MigrationOptions.StreamFormat format, boolean live,
                       boolean leaveRunning, boolean overwrite, long bandwidthCap) {
        this(domain, file, format, live, leaveRunning, overwrite, bandwidthCap, false);
    }

    /** The same save to another file (the path the file policy resolved). */
    public SaveRequest withFile(Path other) {
        return new SaveRequest(domain, other, format, live, leaveRunning, overwrite, bandwidthCap, xlFile);
    }

    /** A save as fast as the disk takes it. */
    public SaveRequest(String domain, Path file, MigrationOptions.StreamFormat format, boolean live,
                       boolean leaveRunning, boolean overwrite) {
        this(domain, file, format, live, leaveRunning, overwrite, 0);
    }
}
