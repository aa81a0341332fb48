package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.RunContext;
import java.io.IOException;
import java.util.Map;

/**
 * What a side of the hand-over needs from its engine: the settings, the journal, whether the engine
 * is closing, the in-doubt cases an operator can decide, the operator alerts, and (as every run) the
 * observers and the end-of-run bookkeeping. Implemented by the engine; thread-safe.
 */
public interface HandoverContext extends RunContext {

    HandoverSettings settings();

    /** Appends to the journal (forced to disk before it returns). */
    void journal(Journal.Role role, String id, Journal.State state, Map<String, String> fields) throws IOException;

    /**
     * Makes the journal usable again after a failed append (see {@link Journal#repair}); true when it is. After
     * a successful repair, a record whose append failed is certainly not in the journal.
     */
    boolean repairJournal();

    /** Whether the engine is closing (in-doubt retries stop; recovery continues at the next start). */
    boolean closing();

    /** Registers a source migration in doubt, where an operator's {@code resolve} finds it. */
    InDoubtCase openInDoubt(MigrationInfo info);

    /**
     * The case ended in {@code end} (or was abandoned at shutdown): no longer in doubt here. It is closed and
     * the observers told before {@link InDoubtCase#settled()} completes, so that whoever waits on it (an
     * operator's {@code resolve}) finds it closed when the wait returns.
     */
    void settleInDoubt(InDoubtCase c, MigrationPhase end);

    /** Tells the observers that a migration needs an operator for {@code why}, or no longer does. */
    void attention(MigrationInfo info, Attention why, boolean raised);
}
