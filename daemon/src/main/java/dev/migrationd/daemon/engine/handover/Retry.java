package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Repeats a step that must happen for the guest to end up in exactly one place — unpausing a committed
 * guest, destroying a copy that must go — instead of giving up after one failure and leaving the guest
 * paused or a copy behind. A few quick attempts first; then one every {@link HandoverSettings#inDoubtRetry()}
 * with the {@link Attention} raised (an operator may have to fix the host), until it works or the engine
 * closes. Runs on the calling thread.
 */
public final class Retry {

    private static final Logger LOG = LoggerFactory.getLogger(Retry.class);

    /** Attempts before the operator is alerted, 100 ms apart then doubling. */
    public static final int QUICK_ATTEMPTS = 3;
    private static final Duration FIRST_PAUSE = Duration.ofMillis(100);
    /** While stuck, one failure in this many is logged. */
    private static final int LOG_EVERY = 30;

    private Retry() {
    }

    /** The step; any exception is a failed attempt. */
    @FunctionalInterface
    public interface Step {
        void run() throws Exception;
    }

    /** Up to {@code attempts} attempts; true once one succeeds. */
    public static boolean attempts(MigrationInfo info, String step, int attempts, Step action) {
        Duration pause = FIRST_PAUSE;
        for (int a = 1; a <= attempts; a++) {
            if (once(info, step, a, action, true)) {
                return true;
            }
            if (a < attempts) {
                LockSupport.parkNanos(pause.toNanos());
                pause = pause.multipliedBy(2);
            }
        }
        return false;
    }

    /**
     * {@link #QUICK_ATTEMPTS} attempts, then until it works with {@code why} raised. False when the engine
     * closed first (the journal still shows the step as not done: the next start does it).
     */
    public static boolean untilDone(HandoverContext engine, MigrationInfo info, Attention why, String step, Step action) {
        if (attempts(info, step, QUICK_ATTEMPTS, action)) {
            return true;
        }
        engine.attention(info, why, true);
        LOG.error("event=operator_needed migration={} domain={} reason={} step={} action=\"retrying every {} ms; fix the host or see docs/handover.md\"",
                info.id(), info.domain(), why.tag(), step, engine.settings().inDoubtRetry().toMillis());
        for (int a = QUICK_ATTEMPTS + 1; !engine.closing(); a++) {
            LockSupport.parkNanos(engine.settings().inDoubtRetry().toNanos());
            if (once(info, step, a, action, a % LOG_EVERY == 0)) {
                engine.attention(info, why, false);
                LOG.info("event=operator_need_cleared migration={} reason={} step={} attempt={}", info.id(), why.tag(), step, a);
                return true;
            }
        }
        return false;
    }

    /** One attempt; a failure is logged when {@code log}. */
    private static boolean once(MigrationInfo info, String step, int attempt, Step action, boolean log) {
        try {
            action.run();
            return true;
        } catch (Exception e) {
            if (log) {
                LOG.warn("event=step_failed migration={} step={} attempt={} error=\"{}\"", info.id(), step, attempt, e.getMessage());
            }
            return false;
        }
    }
}
