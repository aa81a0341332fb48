package dev.migrationd.daemon.engine;

import java.time.Duration;
import java.util.Objects;

/**
 * The end of one migration, seen from this daemon.
 *
 * @param outcome      what happened
 * @param reason       why it failed or was cancelled ("" on success)
 * @param totalTime    from start to the end
 * @param downtime     the parts of the guest's downtime measured here (STYLE.md 16); zero parts where
 *                     this side did not see them
 * @param rounds       pre-copy rounds run (source; 0 on the destination)
 * @param bytes        save-stream bytes sent (source) or received (destination)
 */
public record MigrationResult(Outcome outcome, String reason, Duration totalTime, Downtime downtime, int rounds,
                              long bytes) {
    public MigrationResult {
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(totalTime, "totalTime");
        Objects.requireNonNull(downtime, "downtime");
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
     * stateSend + completion). At the destination: from the last byte of the stream to unpause
     * (only completion is non-zero).
     *
     * @param finalRound   sending the pages dirtied before the pause
     * @param stateCapture reading vCPU and platform state
     * @param stateSend    sending the tail and waiting for Received
     * @param completion   Go → Running (source) or last byte → unpause (destination)
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
