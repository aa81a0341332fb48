package dev.migrationd.daemon.engine.run;

import java.util.List;

/**
 * What a {@link MigrationRun} needs from the engine that runs it: who listens, and where to report its
 * end. Thread-safe.
 */
public interface RunContext {

    /** The observers of every migration (read at each event: added or removed ones count from then on). */
    List<MigrationObserver> observers();

    /** The run has ended: release its domain and move it to the history. Called once, by the run's thread. */
    void ended(MigrationRun run, MigrationResult result);
}
