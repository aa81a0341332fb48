package dev.migrationd.daemon.engine.precopy;

import dev.migrationd.daemon.engine.precopy.PrecopyPolicy.Action;
import dev.migrationd.daemon.engine.precopy.PrecopyPolicy.Decision;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.protocol.StreamLimits;
import java.time.Duration;

/**
 * The two pre-copy policies: {@code xen-legacy} ({@code xc_domain_save}'s rule) and {@code downtime} (the
 * default, QEMU's rule, with throttling where the backend offers it). Both are pure functions of a
 * {@link RoundStats} and the options fixed at construction.
 */
public final class Policies {

    /** {@code xc_domain_save}'s DEF_MAX_ITERS: at most 29 rounds before the last one. */
    public static final int XEN_MAX_ITERS = 29;
    /** {@code DEF_MAX_FACTOR}: stop once 3× the guest's memory has been sent. */
    public static final int XEN_MAX_FACTOR = 3;
    /** Stop when a round sent fewer than this many pages ({@code sent_this_iter < 50}). */
    public static final long XEN_MIN_PAGES = 50;
    /**
     * A round "shrank" when it left fewer than this fraction of the pages it sent dirty again; otherwise
     * pre-copy is not converging and the downtime policy throttles (where the backend can).
     */
    public static final double SHRINK_RATIO = 0.9;
    /**
     * A round that left at least this fraction of the guest's pages dirty saw its dirty set saturate: the
     * guest rewrote (nearly) all its memory, so the dirty rate measured from the pages is only a lower bound
     * of the real one, and {@link #nextThrottle} assumes {@link #SATURATED_RATE_FACTOR} times it.
     */
    public static final double SATURATED_FRACTION = 0.9;
    /** How much faster than measured a saturated round's guest is taken to dirty memory. */
    public static final double SATURATED_RATE_FACTOR = 2.0;

    private Policies() {
    }

    /** The policy the options ask for; {@code canThrottle} says whether the backend offers THROTTLE. */
    public static PrecopyPolicy of(MigrationOptions options, boolean canThrottle) {
        return switch (options.policy()) {
            case XEN_LEGACY -> xenLegacy(options);
            case DOWNTIME -> downtime(options, canThrottle);
        };
    }

    /**
     * {@code xen-legacy}: stop and copy after 29 rounds (or the option's round limit if lower), once 3×
     * the guest's memory was sent, or when a round sent fewer than 50 pages; the time limit acts as the
     * options say.
     */
    public static PrecopyPolicy xenLegacy(MigrationOptions options) {
        int maxRounds = Math.min(XEN_MAX_ITERS, options.maxRounds());
        long timeoutNanos = options.timeout().toNanos();
        return s -> {
            if (s.pagesSent() < XEN_MIN_PAGES) {
                return new Decision(Action.STOP_AND_COPY, "round " + s.round() + " sent " + s.pagesSent()
                        + " pages, fewer than " + XEN_MIN_PAGES);
            }
            if (s.totalBytes() > XEN_MAX_FACTOR * s.p2mSize() * StreamLimits.PAGE_SIZE) {
                return new Decision(Action.STOP_AND_COPY, "sent " + s.totalBytes() + " bytes, more than "
                        + XEN_MAX_FACTOR + "x guest memory");
            }
            if (s.round() + 1 >= maxRounds) {
                return new Decision(Action.STOP_AND_COPY, "round limit " + maxRounds + " reached");
            }
            if (s.elapsedNanos() >= timeoutNanos) {
                return limit(options, "time limit " + options.timeout().toMillis() + " ms reached");
            }
            return new Decision(Action.CONTINUE, "not converged yet");
        };
    }

    /**
     * {@code downtime} (default): stop and copy when the remaining dirty bytes at the measured bandwidth
     * fit the downtime target; when a round did not shrink the dirty set, throttle (if possible), the first
     * round included (a guest that dirtied 90% of what round 0 sent while it ran will not converge by itself,
     * and waiting for round 1 to say so costs a whole pass over its memory at link speed); at the round or
     * time limit abort or force, as the options say. Decisions are only taken between rounds, so never in
     * the middle of the first one.
     */
    public static PrecopyPolicy downtime(MigrationOptions options, boolean canThrottle) {
        long targetNanos = options.maxDowntime().toNanos();
        long timeoutNanos = options.timeout().toNanos();
        int maxRounds = options.maxRounds();
        return s -> {
            if (s.remainingDirtyPages() == 0) {
                return new Decision(Action.STOP_AND_COPY, "no dirty pages left");
            }
            if (s.bandwidth() > 0 && s.expectedDowntimeNanos() <= targetNanos) {
                return new Decision(Action.STOP_AND_COPY, "expected downtime " + millis(s.expectedDowntimeNanos())
                        + " ms fits the target " + millis(targetNanos) + " ms");
            }
            if (s.round() + 1 >= maxRounds) {
                return limit(options, "round limit " + maxRounds + " reached, expected downtime "
                        + millis(s.expectedDowntimeNanos()) + " ms exceeds " + millis(targetNanos) + " ms");
            }
            if (s.elapsedNanos() >= timeoutNanos) {
                return limit(options, "time limit " + options.timeout().toMillis() + " ms reached, expected downtime "
                        + millis(s.expectedDowntimeNanos()) + " ms exceeds " + millis(targetNanos) + " ms");
            }
            boolean shrinking = s.remainingDirtyPages() < SHRINK_RATIO * s.pagesSent();
            if (!shrinking && canThrottle && s.throttlePercent() < dev.migrationd.hypervisor.Throttle.MAX_PERCENT) {
                return new Decision(Action.THROTTLE, "round " + s.round() + " left " + s.remainingDirtyPages()
                        + " of " + s.pagesSent() + " pages dirty: not converging");
            }
            return new Decision(Action.CONTINUE, "expected downtime " + millis(s.expectedDowntimeNanos())
                    + " ms exceeds " + millis(targetNanos) + " ms");
        };
    }

    /**
     * The next throttle percentage after a round that did not converge: at least QEMU's step (20 first,
     * then 10 more; cpu-throttle-initial / -increment), and at least what brings the guest's dirtying
     * under half the measured link, so that each round halves what is left: the round dirtied
     * {@code dirtyRate} pages/s at throttle t, so at full speed it would dirty {@code dirtyRate / (1 - t)},
     * and throttle t' leaves {@code (1 - t')} of that. Round 0 reports no dirty rate: its pages left dirty
     * over its duration stand for it. A round that saturated (left {@link #SATURATED_FRACTION} of the guest
     * dirty) measured only a lower bound: the rate is taken as {@link #SATURATED_RATE_FACTOR} times that, so
     * that the first throttle is about the one that converges instead of a step towards it (each step costs
     * a whole pass over the guest's memory). Capped at {@link dev.migrationd.hypervisor.Throttle#MAX_PERCENT}.
     * A pure function of the round's statistics.
     */
    public static int nextThrottle(RoundStats s) {
        int current = s.throttlePercent();
        int next = current == 0 ? 20 : current + 10;
        double pagesPerSecond = s.dirtyRate() > 0 ? s.dirtyRate()
                : s.round() == 0 && s.durationNanos() > 0 ? s.remainingDirtyPages() * 1e9 / s.durationNanos() : 0;
        if (s.p2mSize() > 0 && s.remainingDirtyPages() >= SATURATED_FRACTION * s.p2mSize()) {
            pagesPerSecond *= SATURATED_RATE_FACTOR;
        }
        double dirtyBytes = pagesPerSecond * dev.migrationd.protocol.StreamLimits.PAGE_SIZE;
        if (dirtyBytes > 0 && s.bandwidth() > 0 && current < 100) {
            double fullSpeed = dirtyBytes / (1 - current / 100.0);
            double needed = 100 * (1 - s.bandwidth() / (2 * fullSpeed));
            next = Math.max(next, (int) Math.ceil(needed));
        }
        return Math.min(next, dev.migrationd.hypervisor.Throttle.MAX_PERCENT);
    }

    private static Decision limit(MigrationOptions options, String why) {
        return options.onTimeout() == MigrationOptions.TimeoutAction.ABORT
                ? new Decision(Action.ABORT, why + "; aborting (guest keeps running on the source)")
                : new Decision(Action.STOP_AND_COPY, why + "; forcing stop-and-copy");
    }

    private static long millis(long nanos) {
        return Duration.ofNanos(nanos).toMillis();
    }
}
