package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverContext;
import dev.migrationd.daemon.engine.handover.HandoverSettings;
import dev.migrationd.daemon.engine.handover.InDoubtCase;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationRun;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the migrations of one engine run in: its settings, journal, observers and closing flag, and the
 * bookkeeping when a run ends (the registry's history, the admission's memory).
 *
 * <p>Threading: safe from any thread. The observer list is copy-on-write (observers are called on the
 * migrations' threads while the facade adds and removes them); the closing flag is volatile and only ever
 * set.
 */
final class EngineContext implements HandoverContext {

    private static final Logger LOG = LoggerFactory.getLogger(EngineContext.class);

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
    public boolean repairJournal() {
        if (journal.usable()) {
            return true;
        }
        try {
            journal.repair();
            return true;
        } catch (IOException e) {
            return false; // logged by the journal
        }
    }

    @Override
    public InDoubtCase openInDoubt(MigrationInfo info) {
        InDoubtCase c = new InDoubtCase(info);
        registry.openInDoubt(c);
        tell(info, "inDoubt", o -> o.inDoubt(info, true));
        return c;
    }

    @Override
    public void settleInDoubt(InDoubtCase c, MigrationPhase end) {
        registry.closeInDoubt(c);
        tell(c.info(), "inDoubt", o -> o.inDoubt(c.info(), false));
        c.settle(end);
    }

    @Override
    public void attention(MigrationInfo info, Attention why, boolean raised) {
        tell(info, "attention", o -> o.attention(info, why, raised));
    }

    /** Calls every observer; one that throws is logged and the others are called all the same. */
    private void tell(MigrationInfo info, String callback, java.util.function.Consumer<MigrationObserver> call) {
        for (MigrationObserver o : observers) {
            try {
                call.accept(o);
            } catch (RuntimeException e) {
                LOG.warn("event=observer_failed migration={} callback={} error=\"{}\"", info.id(), callback, e.toString());
            }
        }
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
