/**
 * One migration, as callers and observers see it: what is asked ({@link dev.migrationd.daemon.engine.run.MigrationRequest},
 * {@link dev.migrationd.daemon.engine.run.MigrationOptions}), what it is
 * ({@link dev.migrationd.daemon.engine.run.MigrationInfo}), where it is (the sealed
 * {@link dev.migrationd.daemon.engine.run.MigrationPhase}), what each pre-copy round did
 * ({@link dev.migrationd.daemon.engine.run.RoundStats}), how it ended
 * ({@link dev.migrationd.daemon.engine.run.MigrationResult}, {@link dev.migrationd.daemon.engine.run.MigrationSummary}),
 * how to follow and stop it ({@link dev.migrationd.daemon.engine.run.MigrationHandle},
 * {@link dev.migrationd.daemon.engine.run.MigrationObserver}, {@link dev.migrationd.daemon.engine.run.CancelOutcome}),
 * and how the engine refuses a request ({@link dev.migrationd.daemon.engine.run.EngineException}).
 *
 * <p>{@link dev.migrationd.daemon.engine.run.MigrationRun} is what both directions share: the phase, changed
 * only by compare-and-set; the first error, which cleanup never replaces; cancellation with an explicit
 * outcome; the commit point; the result. Threads: the migration's own thread drives a run; cancel and the
 * getters may be called from any thread, and a lock orders a cancel against the commit point. The values
 * here are immutable.
 */
package dev.migrationd.daemon.engine.run;
