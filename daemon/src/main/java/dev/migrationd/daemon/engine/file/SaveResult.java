package dev.migrationd.daemon.engine.file;

import java.nio.file.Path;
import java.time.Duration;

/**
 * A completed save.
 *
 * @param file     the file written
 * @param bytes    its size
 * @param rounds   pre-copy rounds (1 for a non-live save)
 * @param downtime time the guest was paused
 */
public record SaveResult(Path file, long bytes, int rounds, Duration downtime) {
}
