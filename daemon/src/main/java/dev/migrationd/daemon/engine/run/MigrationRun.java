package dev.migrationd.daemon.engine.run;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What both directions share: the phase (changed only by compare-and-set; observers hear only the
 * transitions that succeeded), the first error (the first error wins; cleanup never replaces it),
 * cancellation with an explicit outcome, the commit point, and the result.
 *
 * <p>Threading: the migration's own virtual thread drives it; {@link #cancel()} and the getters may be
 * called from any thread. {@link #commitLock} orders a cancel against the commit point: the commit
 * transition and the cancel decision both happen under it.
 */
public abstract class MigrationRun implements MigrationHandle {

    private static final Logger LOG = LoggerFactory.getLogger(MigrationRun.class);

    protected final MigrationInfo info;
    private final List<MigrationObserver> observers;
    private final AtomicReference<MigrationPhase> phase = new AtomicReference<>(new MigrationPhase.Offered());
    private final AtomicReference<MigrationAbort> firstError = new AtomicReference<>();
    private final AtomicReference<RoundStats> lastRound = new AtomicReference<>();
    private final CompletableFuture<MigrationResult> result = new CompletableFuture<>();
    private final ReentrantLock commitLock = new ReentrantLock();
    private volatile Runnable onCancel = () -> { };

    protected MigrationRun(MigrationInfo info, List<MigrationObserver> observers) {
        this.info = info;
        this.observers = observers;
    }

    @Override
    public MigrationInfo info() {
        return info;
    }

    @Override
    public MigrationPhase phase() {
        return phase.get();
    }

    @Override
    public Optional<RoundStats> lastRound() {
        return Optional.ofNullable(lastRound.get());
    }

    @Override
    public CompletableFuture<MigrationResult> result() {
        return result;
    }

    /** Moves from {@code from} to {@code to}; false (and no notification) if the phase was not {@code from}. */
    protected final boolean transition(MigrationPhase from, MigrationPhase to) {
        if (!phase.compareAndSet(from, to)) {
            return false;
        }
        LOG.info("event=phase migration={} direction={} domain={} from={} to={}{}", info.id(),
                info.direction().name().toLowerCase(), info.domain(), from.name(), to.name(), detail(to));
        for (MigrationObserver o : observers) {
            try {
                o.phaseChanged(info, from, to);
            } catch (RuntimeException e) {
                LOG.warn("event=observer_failed migration={} callback=phaseChanged error=\"{}\"", info.id(), e.toString());
            }
        }
        return true;
    }

    /** Moves from the current phase to {@code to} (the migration thread is the only writer). */
    protected final boolean advance(MigrationPhase to) {
        return transition(phase.get(), to);
    }

    private static String detail(MigrationPhase p) {
        return switch (p) {
            case MigrationPhase.PreCopy pc -> " round=" + pc.round();
            case MigrationPhase.Failed f -> " reason=\"" + f.reason() + "\"";
            case MigrationPhase.InDoubt d -> " reason=\"" + d.why() + "\"";
            default -> "";
        };
    }

    protected final void round(RoundStats stats) {
        lastRound.set(stats);
        for (MigrationObserver o : observers) {
            try {
                o.roundCompleted(info, stats);
            } catch (RuntimeException e) {
                LOG.warn("event=observer_failed migration={} callback=roundCompleted error=\"{}\"", info.id(), e.toString());
            }
        }
    }

    /** Records {@code error} unless another was recorded first; returns the one that counts. */
    protected final MigrationAbort recordError(MigrationAbort error) {
        firstError.compareAndSet(null, error);
        return firstError.get();
    }

    /** What a side makes durable at the commit point (its journal entry). */
    @FunctionalInterface
    protected interface CommitRecord {
        void write() throws IOException;
    }

    /**
     * Passes the commit point: under {@link #commitLock}, an error recorded before (a cancel, say) wins and is
     * thrown; otherwise {@code record} is written and the phase becomes Committing, after which a cancel
     * reports {@link CancelOutcome#COMPLETED_FIRST}.
     */
    protected final void passCommitPoint(CommitRecord record) throws MigrationAbort, IOException {
        commitLock.lock();
        try {
            checkpoint();
            record.write();
            advance(new MigrationPhase.Committing());
        } finally {
            commitLock.unlock();
        }
    }

    /** A migration's body, run by {@link #attempt}. */
    @FunctionalInterface
    protected interface Body {
        void run() throws Exception;
    }

    /** How the body ended: the outcome and reason of the error that counts (the first one), or success. */
    protected record Ending(MigrationResult.Outcome outcome, String reason) {
    }

    /**
     * Runs {@code body} and turns how it ended into an {@link Ending}: its own abort, or any other failure
     * described by {@code describe}, is recorded unless an earlier error was (a cancel, say), and the first
     * one counts. A RuntimeException is a bug and is logged with its stack. An {@link Error} (out of memory,
     * say) is recorded the same way, so the side's cleanup still runs (the guest resumed, the domain
     * released); the engine stops the daemon if the cleanup cannot run either.
     */
    protected final Ending attempt(Body body, java.util.function.Function<Exception, String> describe) {
        MigrationAbort first;
        try {
            body.run();
            return new Ending(MigrationResult.Outcome.SUCCEEDED, "");
        } catch (MigrationAbort e) {
            first = recordError(e);
        } catch (InterruptedException e) {
            first = recordError(MigrationAbort.failed("interrupted"));
        } catch (Exception e) {
            first = recordError(MigrationAbort.failed(describe.apply(e)));
            if (e instanceof RuntimeException) {
                LOG.error("event=migration_bug migration={} error=\"{}\"", info.id(), e.toString(), e);
            }
        } catch (Error e) {
            first = recordError(MigrationAbort.failed("internal error: " + e));
            LOG.error("event=migration_error migration={} error=\"{}\" action=cleanup", info.id(), e.toString());
        }
        return new Ending(first.outcome(), first.getMessage());
    }

    protected final MigrationAbort firstError() {
        return firstError.get();
    }

    /** The cancellation checkpoint: throws the recorded error (cancel or another) if there is one. */
    protected final void checkpoint() throws MigrationAbort {
        MigrationAbort e = firstError.get();
        if (e != null) {
            throw e;
        }
    }

    /** What to do to wake the migration thread when cancelled (close its connection). */
    protected final void onCancel(Runnable r) {
        this.onCancel = r;
    }

    @Override
    public CancelOutcome cancel() {
        commitLock.lock();
        try {
            MigrationPhase p = phase.get();
            if (p instanceof MigrationPhase.Done || p.pastCommitPoint()) {
                return CancelOutcome.COMPLETED_FIRST;
            }
            if (p.terminal()) {
                return CancelOutcome.FAILED_FIRST;
            }
            MigrationAbort cancel = MigrationAbort.cancelled();
            if (recordError(cancel) != cancel) {
                return CancelOutcome.FAILED_FIRST;
            }
        } finally {
            commitLock.unlock();
        }
        LOG.info("event=cancel_requested migration={} domain={}", info.id(), info.domain());
        try {
            onCancel.run();
        } catch (RuntimeException e) {
            LOG.warn("event=cancel_wakeup_failed migration={} error=\"{}\"", info.id(), e.toString());
        }
        return CancelOutcome.CANCELLED;
    }

    /**
     * Ends the migration: terminal phase, observers, the engine's bookkeeping (history, domain
     * released), then the result future. Called once, last.
     */
    protected final void finish(MigrationPhase terminal, MigrationResult r, RunContext engine) {
        advance(terminal);
        for (MigrationObserver o : observers) {
            try {
                o.finished(info, r);
            } catch (RuntimeException e) {
                LOG.warn("event=observer_failed migration={} callback=finished error=\"{}\"", info.id(), e.toString());
            }
        }
        LOG.info("event=migration_finished migration={} direction={} domain={} outcome={} total_ms={} downtime_ms={} rounds={} bytes={}{}",
                info.id(), info.direction().name().toLowerCase(), info.domain(), r.outcome(), r.totalTime().toMillis(),
                r.downtime().total().toMillis(), r.rounds(), r.bytes(), r.reason().isEmpty() ? "" : " reason=\"" + r.reason() + "\"");
        engine.ended(this, r);
        result.complete(r);
    }

    /** The migration's body, run on its virtual thread. */
    public abstract void run();
}
