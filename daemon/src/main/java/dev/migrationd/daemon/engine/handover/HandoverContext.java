package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.run.RunContext;
import java.io.IOException;
import java.util.Map;

/**
 * What a side of the hand-over needs from its engine: the settings, the journal, whether the engine
 * is closing, and (as every run) the observers and the end-of-run bookkeeping. Implemented by the
 * engine; thread-safe.
 */
public interface HandoverContext extends RunContext {

    HandoverSettings settings();

    /** Appends to the journal (fsync'd). */
    void journal(Journal.Role role, String id, Journal.State state, Map<String, String> fields) throws IOException;

    /** Whether the engine is closing (in-doubt retries stop; recovery continues at the next start). */
    boolean closing();
}
