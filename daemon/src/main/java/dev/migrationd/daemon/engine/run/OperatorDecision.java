package dev.migrationd.daemon.engine.run;

/** What an operator decides for a source migration in doubt ({@code migrationctl resolve}). */
public enum OperatorDecision {
    /** The destination did not commit: resume the guest here (the source copy is the guest). */
    RESUME_SOURCE,
    /** The destination committed: destroy the copy here (the destination's copy is the guest). */
    CONFIRM_DESTINATION
}
