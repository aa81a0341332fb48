package dev.migrationd.daemon.engine.run;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The end of one migration, seen from this daemon.
 *
 * @param outcome      what happened
 * @param reason       why it failed or was cancelled ("" on success)
 * @param totalTime    from start to the end
 * @param downtime     the parts of the guest's downtime measured here (in parts, so that each can be told apart); zero parts where
 *                     this side did not see them
 * @param rounds       pre-copy rounds run (source; 0 on the destination)
 * @param bytes        save-stream bytes sent (source) or received (destination)
 * @param destinationDowntime on the source of a successful migration: the downtime the destination
 *                     measured and reported in Running (empty elsewhere, or from a peer that does not
 *                     report it); on the destination: its own {@link Downtime#total()} once committed
 * @param setupTime    part of {@code totalTime} before the first stream byte: on the source from the start to
 *                     the destination's Accept (connecting, the destination building the domain, and
 *                     prefaulting its memory when it does); on the destination, building the domain.
 *                     Zero when the migration ended before
 * @param compression  how the stream travelled between the daemons (NONE: plain frames; also for files)
 * @param wireBytes    bytes the stream took on the wire (after compression, frame headers included); equal
 *                     to {@code bytes} where nothing counted them separately
 */
public record MigrationResult(Outcome outcome, String reason, Duration totalTime, Downtime downtime, int rounds,
                              long bytes, Optional<Duration> destinationDowntime, Duration setupTime,
                              StreamCodec compression, long wireBytes) {
    public MigrationResult {
        Objects.requireNonNull(compression, "compression");
        Objects.requireNonNull(setupTime, "setupTime");
        Objects.requireNonNull(destinationDowntime, "destinationDowntime");
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(totalTime, "totalTime");
        Objects.requireNonNull(downtime, "downtime");
    }

    /** A result of plain frames (or a file). */
    public MigrationResult(Outcome outcome, String reason, Duration totalTime, Downtime downtime, int rounds,
                           long bytes, Optional<Duration> destinationDowntime, Duration setupTime) {
        this(outcome, reason, totalTime, downtime, rounds, bytes, destinationDowntime, setupTime, StreamCodec.NONE, bytes);
    }

    /** A result without a measured set-up time. */
    public MigrationResult(Outcome outcome, String reason, Duration totalTime, Downtime downtime, int rounds,
                           long bytes, Optional<Duration> destinationDowntime) {
        this(outcome, reason, totalTime, downtime, rounds, bytes, destinationDowntime, Duration.ZERO);
    }

    /** A result without the destination's downtime. */
    public MigrationResult(Outcome outcome, String reason, Duration totalTime, Downtime downtime, int rounds, long bytes) {
        this(outcome, reason, totalTime, downtime, rounds, bytes, Optional.empty());
    }

    /** How a migration ended. */
    public enum Outcome {
        /** The guest runs on the destination; the source copy is destroyed. */
        SUCCEEDED,
        /** It failed before the commit point; the guest runs on the source, the destination built nothing. */
        FAILED,
        /** Cancelled before the commit point; the guest runs on the source. */
        CANCELLED,
        /** The policy gave up (round or time limit with abort); the guest runs on the source. */
        ABORTED
    }

    /**
     * Downtime in parts. At the source: from pause to Running heard (finalRound + stateCapture +
     * stateSend + completion). At the destination: from the stop-and-copy point in the stream (TSC_INFO,
     * sent right after the source paused) to unpause: finalRound = to the last stream byte, stateSend =
     * last byte to Go, completion = Go to unpause.
     *
     * @param finalRound   sending the pages dirtied before the pause
     * @param stateCapture reading vCPU and platform state
     * @param stateSend    sending the tail and waiting for Received
     * @param completion   Go → Running (source) or last byte → unpause (destination); on a source whose
     *                     migration failed after it paused the guest, the rest of the time until it resumed
     *                     its copy (the wait for an answer, an in-doubt query), so that the total is the
     *                     time the guest did not run
     */
    public record Downtime(Duration finalRound, Duration stateCapture, Duration stateSend, Duration completion) {
        public static final Downtime NONE = new Downtime(Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO);

        public Downtime {
            Objects.requireNonNull(finalRound, "finalRound");
            Objects.requireNonNull(stateCapture, "stateCapture");
            Objects.requireNonNull(stateSend, "stateSend");
            Objects.requireNonNull(completion, "completion");
        }

        public Duration total() {
            return finalRound.plus(stateCapture).plus(stateSend).plus(completion);
        }
    }
}
