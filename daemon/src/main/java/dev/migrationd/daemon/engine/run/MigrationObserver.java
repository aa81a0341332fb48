package dev.migrationd.daemon.engine.run;


/**
 * Hears what migrations do: phase changes, rounds and results. The daemon's metrics binder and the
 * control API's WatchMigration implement it; the engine itself knows neither.
 *
 * <p>Threading: callbacks run on the migration's own virtual thread (or on the caller of
 * {@link dev.migrationd.daemon.engine.MigrationEngine#cancel}), synchronously, in the order the transitions happened for one
 * migration; different migrations call concurrently. Implementations must be thread-safe and quick;
 * an exception thrown by an observer is logged and ignored.
 */
public interface MigrationObserver {

    /** A successful phase transition (a compare-and-set that failed is never reported). */
    default void phaseChanged(MigrationInfo migration, MigrationPhase from, MigrationPhase to) {
    }

    /** One pre-copy round finished (source only). */
    default void roundCompleted(MigrationInfo migration, RoundStats stats) {
    }

    /** The migration ended (called once, after the terminal phase change). */
    default void finished(MigrationInfo migration, MigrationResult result) {
    }

    /**
     * The migration needs an operator for {@code why} ({@code raised}), or no longer does. Raised at most once
     * per cause until cleared; a migration recovered after a restart raises it anew.
     */
    default void attention(MigrationInfo migration, Attention why, boolean raised) {
    }

    /**
     * A source migration is in doubt ({@code open}: Go may have been sent and Running was not heard, live or
     * recovered after a restart; its copy is kept paused until the destination's durable answer or an
     * operator decides), or no longer is. Called once each way per migration and engine run.
     */
    default void inDoubt(MigrationInfo migration, boolean open) {
    }
}
