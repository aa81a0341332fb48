package dev.migrationd.daemon.engine.run;


/**
 * What one pre-copy round did: the input of a {@link dev.migrationd.daemon.engine.precopy.PrecopyPolicy} and of the per-round metrics.
 * Immutable.
 *
 * @param round               0-based round number (0 sends every populated page)
 * @param pagesDirtied        pages the dirty log reported for this round (round 0: populated pages)
 * @param pagesSent           pages sent in this round
 * @param bytes               stream bytes written in this round
 * @param durationNanos       wall time of the round
 * @param dirtyRate           pages dirtied per second while the round ran (0 in round 0)
 * @param bandwidth           measured bytes per second of this round (0 when unmeasurable)
 * @param expectedDowntimeNanos remaining dirty bytes ÷ bandwidth: the downtime a stop now would cost
 * @param remainingDirtyPages pages dirtied during this round (what the next round would send)
 * @param totalBytes          stream bytes written so far in the migration
 * @param elapsedNanos        time since pre-copy started
 * @param p2mSize             the guest's p2m size in pages (for "× memory" rules)
 * @param throttlePercent     the guest's throttle during this round (0 = none)
 * @param wireBytes           bytes this round took on the wire (after compression, frame headers included);
 *                            {@code bytes} where nothing counted them separately
 */
public record RoundStats(int round, long pagesDirtied, long pagesSent, long bytes, long durationNanos,
                         double dirtyRate, double bandwidth, long expectedDowntimeNanos,
                         long remainingDirtyPages, long totalBytes, long elapsedNanos, long p2mSize,
                         int throttlePercent, long wireBytes) {

    /** A round whose wire bytes were not counted apart from its stream bytes. */
    public RoundStats(int round, long pagesDirtied, long pagesSent, long bytes, long durationNanos,
                      double dirtyRate, double bandwidth, long expectedDowntimeNanos,
                      long remainingDirtyPages, long totalBytes, long elapsedNanos, long p2mSize, int throttlePercent) {
        this(round, pagesDirtied, pagesSent, bytes, durationNanos, dirtyRate, bandwidth, expectedDowntimeNanos,
                remainingDirtyPages, totalBytes, elapsedNanos, p2mSize, throttlePercent, bytes);
    }

    public RoundStats {
        if (round < 0 || pagesDirtied < 0 || pagesSent < 0 || bytes < 0 || durationNanos < 0 || wireBytes < 0
                || remainingDirtyPages < 0 || totalBytes < 0 || elapsedNanos < 0 || p2mSize < 0
                || throttlePercent < 0) {
            throw new IllegalArgumentException("round statistics must not be negative");
        }
    }

    /** Bytes the next round would send (remaining dirty pages × page size). */
    public long remainingDirtyBytes() {
        return remainingDirtyPages * dev.migrationd.protocol.StreamLimits.PAGE_SIZE;
    }
}
