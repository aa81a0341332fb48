package dev.migrationd.daemon.engine;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * What a migration run needs from its engine: configuration, the journal, observers, and the
 * bookkeeping callbacks. Implemented by {@link MigrationEngine}; thread-safe.
 */
interface EngineContext {

    EngineConfig config();

    List<MigrationObserver> observers();

    /** Appends to the journal (fsync'd). */
    void journal(Journal.Role role, String id, Journal.State state, Map<String, String> fields) throws IOException;

    /** The run has ended: release its domain and move it to the history. Called once, by the run's thread. */
    void ended(MigrationRun run, MigrationResult result);

    /** Whether the engine is closing (in-doubt retries stop; recovery continues at the next start). */
    boolean closing();
}
