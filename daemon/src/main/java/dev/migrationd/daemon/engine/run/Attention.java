package dev.migrationd.daemon.engine.run;

import java.util.Locale;

/**
 * Why a migration needs an operator: the engine cannot finish it safely on its own and keeps it where
 * nothing is lost (a guest paused, a copy kept) until someone acts or the condition clears. Raised and
 * cleared through {@link MigrationObserver#attention}; the metrics export how many of each there are.
 */
public enum Attention {
    /**
     * Source: the destination answers that it does not know the migration (it lost or replaced its journal,
     * or the retention dropped it) while this side may have sent Go. The guest stays paused here and the
     * source keeps asking; {@code migrationctl resolve ID --resume-source|--confirm-destination} decides.
     */
    IN_DOUBT_UNKNOWN,
    /** Destination: COMMITTED is durable but the guest cannot be unpaused; the engine keeps trying. */
    UNPAUSE_FAILED,
    /**
     * A copy that must go cannot be destroyed (the source's after the destination committed, or the
     * destination's before it did); the engine keeps trying and does not journal the end until it is gone.
     */
    DESTROY_FAILED,
    /**
     * Destination: the journal cannot tell whether this side committed (COMMITTED could not be made durable
     * and the journal could not be repaired, or after a restart a domain runs whose COMMITTED the journal does
     * not hold). The domain is left as it is and the source is answered UNKNOWN.
     */
    UNDECIDED;

    /** The metric tag value: the name in lower case. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
