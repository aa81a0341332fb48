package dev.migrationd.daemon.engine.file;

import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.engine.run.RunContext;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.hypervisor.Hypervisor;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A save or a restore run as an operation of the engine, like a migration: it has an id, phases, rounds
 * (a live save's), a commit point and a result, so that the control API follows, cancels and lists it as
 * it does a migration, and no client deadline bounds it. Phases: a save goes Offered → PreCopy(n) (live
 * only) → StopAndCopy → Committing (the file is complete and synced) → Done; a restore goes Offered →
 * Receiving → Committing (the domain is fully built, paused) → Done. Before Committing a cancel or failure
 * leaves things as they were (no file and the domain resumed; no domain); after it the operation ends as
 * committed unless the last step fails, which its result then says.
 *
 * <p>Threading: {@link #run()} runs on the operation's own virtual thread, which owns the domain and the
 * file; {@link #cancel()} and the getters may be called from any thread (see {@link MigrationRun}).
 */
public final class FileOperation extends MigrationRun implements SaveRestore.Progress {

    private final RunContext context;
    private final Hypervisor hypervisor;
    private final Ticker ticker;
    private final FilePolicy policy;
    private final SaveRequest save;
    private final RestoreRequest restore;
    /** What the body ended with, for {@link dev.migrationd.daemon.engine.MigrationEngine#save} and restore. */
    private final AtomicReference<Object> outcome = new AtomicReference<>();

    private FileOperation(MigrationInfo info, RunContext context, Hypervisor hypervisor, Ticker ticker,
                          FilePolicy policy, SaveRequest save, RestoreRequest restore) {
        super(info, context.observers());
        this.context = context;
        this.hypervisor = hypervisor;
        this.ticker = ticker;
        this.policy = policy;
        this.save = save;
        this.restore = restore;
    }

    /** A save of {@code request.domain()}; {@code info} has direction SAVE and the file as its peer. */
    public static FileOperation save(MigrationInfo info, RunContext context, Hypervisor hypervisor, Ticker ticker,
                                     FilePolicy policy, SaveRequest request) {
        return new FileOperation(info, context, hypervisor, ticker, policy, request, null);
    }

    /** A restore into {@code request.name()}; {@code info} has direction RESTORE and the file as its peer. */
    public static FileOperation restore(MigrationInfo info, RunContext context, Hypervisor hypervisor, Ticker ticker,
                                        FilePolicy policy, RestoreRequest request) {
        return new FileOperation(info, context, hypervisor, ticker, policy, null, request);
    }

    @Override
    public void run() {
        long t0 = ticker.nanoTime();
        AtomicReference<Object> done = new AtomicReference<>();
        Ending end = attempt(() -> {
            try {
                done.set(save != null ? SaveRestore.save(hypervisor, ticker, save, policy, this)
                        : SaveRestore.restore(hypervisor, ticker, restore, policy, this));
            } catch (EngineException e) {
                outcome.set(e);
                // a cancel seen inside the save or restore is the run's own recorded abort, which counts first
                throw e.getCause() instanceof MigrationAbort a ? a : MigrationAbort.failed(e.getMessage());
            }
        }, MigrationAbort::describe);
        Duration total = Duration.ofNanos(ticker.nanoTime() - t0);
        MigrationResult r;
        if (end.outcome() == MigrationResult.Outcome.SUCCEEDED) {
            outcome.set(done.get());
            r = switch (done.get()) {
                case SaveResult s -> new MigrationResult(MigrationResult.Outcome.SUCCEEDED, "", total,
                        new MigrationResult.Downtime(s.downtime(), Duration.ZERO, Duration.ZERO, Duration.ZERO),
                        s.rounds(), s.bytes());
                case RestoreResult rr -> new MigrationResult(MigrationResult.Outcome.SUCCEEDED, "", total,
                        MigrationResult.Downtime.NONE, 0, rr.bytes());
                default -> throw new IllegalStateException("unexpected result " + done.get());
            };
        } else {
            outcome.compareAndSet(null, new EngineException(EngineException.Kind.FAILED_PRECONDITION, end.reason()));
            r = new MigrationResult(end.outcome(), end.reason(), total, MigrationResult.Downtime.NONE,
                    lastRound().map(s -> s.round() + 1).orElse(0), 0);
        }
        finish(end.outcome() == MigrationResult.Outcome.SUCCEEDED ? new MigrationPhase.Done()
                : end.outcome() == MigrationResult.Outcome.CANCELLED ? new MigrationPhase.Cancelled()
                : new MigrationPhase.Failed(end.reason()), r, context);
    }

    /**
     * Once the operation has ended: the save's or restore's own result, or the exception that ended it (a
     * cancel shows as an EngineException saying so). Empty while it runs.
     */
    public Optional<Object> ended() {
        return result().isDone() ? Optional.ofNullable(outcome.get()) : Optional.empty();
    }

    // ---- SaveRestore.Progress, on the operation's thread -----------------------------------------------

    @Override
    public void preCopy(int round) {
        advance(new MigrationPhase.PreCopy(round));
    }

    @Override
    public void roundDone(RoundStats stats) {
        round(stats);
    }

    @Override
    public void stopped() {
        advance(save != null ? new MigrationPhase.StopAndCopy() : new MigrationPhase.Receiving());
    }

    @Override
    public void check() throws MigrationAbort {
        checkpoint();
    }

    @Override
    public void commit() throws MigrationAbort {
        try {
            passCommitPoint(() -> { });
        } catch (java.io.IOException e) {
            throw MigrationAbort.failed(e.getMessage());
        }
    }
}
