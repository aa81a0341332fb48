package dev.migrationd.daemon.engine.run;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** A running or finished migration. Thread-safe. */
public interface MigrationHandle {

    MigrationInfo info();

    default String id() {
        return info().id();
    }

    /** The current phase (a snapshot). */
    MigrationPhase phase();

    /** The last completed pre-copy round, if any. */
    Optional<RoundStats> lastRound();

    /** Completes with the result when the migration ends; never completes exceptionally. */
    CompletableFuture<MigrationResult> result();

    /** Requests cancellation; see {@link dev.migrationd.daemon.engine.MigrationEngine#cancel(String)}. */
    CancelOutcome cancel();
}
