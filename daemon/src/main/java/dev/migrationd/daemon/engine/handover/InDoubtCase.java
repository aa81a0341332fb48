package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.peer.HandoverMessage.Resolution;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One source migration in doubt (COMMITTING durable, Running not heard), shared by the thread that resolves
 * it and an operator's {@code resolve} call: whichever decides first — the destination's durable answer or
 * the operator — decides, once ({@link #decide}). The resolving thread then acts on the verdict and reports
 * the phase it ended in ({@link #settle}).
 *
 * <p>Threading: the verdict and the settled phase are futures, the operator flag an atomic; any thread.
 */
public final class InDoubtCase {

    /**
     * A decision: {@link Resolution#COMMITTED} (destroy the source copy) or {@link Resolution#NOT_COMMITTED}
     * (resume it), and who made it ({@link #BY_DESTINATION} or {@link #BY_OPERATOR}).
     */
    public record Verdict(Resolution resolution, String by) {
        public Verdict {
            if (resolution != Resolution.COMMITTED && resolution != Resolution.NOT_COMMITTED) {
                throw new IllegalArgumentException("a verdict is COMMITTED or NOT_COMMITTED, not " + resolution);
            }
            Objects.requireNonNull(by, "by");
        }
    }

    public static final String BY_DESTINATION = "destination";
    public static final String BY_OPERATOR = "operator";

    private final MigrationInfo info;
    private final CompletableFuture<Verdict> verdict = new CompletableFuture<>();
    private final CompletableFuture<MigrationPhase> settled = new CompletableFuture<>();
    private final AtomicBoolean operatorNeeded = new AtomicBoolean();

    public InDoubtCase(MigrationInfo info) {
        this.info = Objects.requireNonNull(info, "info");
    }

    public MigrationInfo info() {
        return info;
    }

    /** Decides, unless the case is decided already; returns the verdict that counts. */
    public Verdict decide(Verdict v) {
        verdict.complete(v);
        return verdict.join();
    }

    /** The verdict, once there is one. */
    public Optional<Verdict> verdict() {
        return verdict.isDone() ? Optional.of(verdict.join()) : Optional.empty();
    }

    /** Waits up to {@code d} for a verdict. */
    Optional<Verdict> await(Duration d) throws InterruptedException {
        try {
            return Optional.of(verdict.get(d.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException("a verdict never completes exceptionally", e);
        }
    }

    /** The phase the migration ended in once the verdict was acted on. */
    public CompletableFuture<MigrationPhase> settled() {
        return settled;
    }

    /** Called once by the resolving thread after it acted (or gave up at shutdown). */
    public void settle(MigrationPhase phase) {
        settled.complete(phase);
    }

    /** Marks that the destination has no record of the migration; true the first time. */
    boolean needOperator() {
        return operatorNeeded.compareAndSet(false, true);
    }

    /** Whether the destination answered that it has no record of the migration. */
    public boolean operatorNeeded() {
        return operatorNeeded.get();
    }
}
