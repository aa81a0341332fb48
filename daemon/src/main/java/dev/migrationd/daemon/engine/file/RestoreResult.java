package dev.migrationd.daemon.engine.file;

import java.time.Duration;

/**
 * A completed restore.
 *
 * @param domain the new domain's name
 * @param bytes  stream bytes read
 * @param paused whether it was left paused
 * @param time   how long the restore took
 */
public record RestoreResult(String domain, long bytes, boolean paused, Duration time) {
}
