package dev.migrationd.daemon.engine.precopy;

import dev.migrationd.daemon.engine.run.RoundStats;
import java.util.Objects;

/**
 * Decides after each pre-copy round what comes next. A pure function of the round's statistics and the
 * migration's options: no clock, no state of its own, table-tested.
 */
@FunctionalInterface
public interface PrecopyPolicy {

    Decision decide(RoundStats stats);

    /** What to do next. */
    enum Action {
        /** Run another live round. */
        CONTINUE,
        /** Another live round, with the guest throttled more (the backend offers throttling). */
        THROTTLE,
        /** Pause the guest and send the rest. */
        STOP_AND_COPY,
        /** Give up; the guest keeps running on the source. */
        ABORT
    }

    /**
     * A decision with its reason (logged, and reported on abort).
     *
     * @param action what to do
     * @param reason why, one line
     */
    record Decision(Action action, String reason) {
        public Decision {
            Objects.requireNonNull(action, "action");
            Objects.requireNonNull(reason, "reason");
        }
    }
}
