package dev.migrationd.daemon.engine.run;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One line of the migration history ({@link dev.migrationd.daemon.engine.MigrationEngine#list()}): live migrations and recent
 * finished ones, including those from before a restart (read back from the journal).
 *
 * @param info      the fixed facts
 * @param phase     the last phase
 * @param result    the result, when finished (absent for a live migration, and for history entries read
 *                  back from the journal, which keeps outcome and reason only: see {@link #outcome})
 * @param outcome   the outcome when finished
 * @param reason    failure or cancel reason, "" otherwise
 * @param updatedAt time of the last change
 * @param downtime  for a history entry read back from the journal, the downtime this side measured and
 *                  journaled with the end (empty when the guest was not paused, or the end predates the field)
 */
public record MigrationSummary(MigrationInfo info, MigrationPhase phase, Optional<MigrationResult> result,
                               Optional<MigrationResult.Outcome> outcome, String reason, Instant updatedAt,
                               Optional<Duration> downtime) {
    public MigrationSummary(MigrationInfo info, MigrationPhase phase, Optional<MigrationResult> result,
                            Optional<MigrationResult.Outcome> outcome, String reason, Instant updatedAt) {
        this(info, phase, result, outcome, reason, updatedAt, Optional.empty());
    }

    public MigrationSummary {
        Objects.requireNonNull(downtime, "downtime");
        Objects.requireNonNull(info, "info");
        Objects.requireNonNull(phase, "phase");
        Objects.requireNonNull(result, "result");
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(updatedAt, "updatedAt");
    }
}
