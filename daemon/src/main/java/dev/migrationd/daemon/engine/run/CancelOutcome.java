package dev.migrationd.daemon.engine.run;

/** What a cancel request achieved: a cancel always says whether it took effect, and if not, why. */
public enum CancelOutcome {
    /** Cancelled before the commit point; the guest runs on the source. */
    CANCELLED,
    /** The migration completed before the cancel took effect (or is past the commit point). */
    COMPLETED_FIRST,
    /** The migration had already failed (or been aborted or cancelled). */
    FAILED_FIRST
}
