package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverContext;
import dev.migrationd.daemon.engine.handover.HandoverSettings;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationRun;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What the migrations of one engine run in: its settings, journal, observers and closing flag, and the
 * bookkeeping when a run ends (the registry's history, the admission's memory).
 *
 * <p>Threading: safe from any thread. The observer list is copy-on-write (observers are called on the
 * migrations' threads while the facade adds and removes them); the closing flag is volatile and only ever
 * set.
 */
final class EngineContext implements HandoverContext {

    private final EngineConfig config;
    private final Journal journal;
    private final MigrationRegistry registry;
    private final Admission admission;
    private final List<MigrationObserver> observers = new CopyOnWriteArrayList<>();
    private volatile boolean closing;

    EngineContext(EngineConfig config, Journal journal, MigrationRegistry registry, Admission admission) {
        this.config = config;
        this.journal = journal;
        this.registry = registry;
        this.admission = admission;
    }

    @Override
    public HandoverSettings settings() {
        return config;
    }

    @Override
    public List<MigrationObserver> observers() {
        return observers;
    }

    @Override
    public void journal(Journal.Role role, String id, Journal.State state, Map<String, String> fields) throws IOException {
        journal.append(new Journal.Entry(config.clock().instant(), id, role, state, fields));
    }

    @Override
    public void ended(MigrationRun run, MigrationResult result) {
        registry.ended(run, result);
        if (run instanceof IncomingMigration in) {
            admission.released(in);
        }
    }

    @Override
    public boolean closing() {
        return closing;
    }

    /** From now on the engine admits nothing new and in-doubt retries stop. */
    void close() {
        closing = true;
    }
}
