package dev.migrationd.daemon.engine.run;

/**
 * Why a migration stops before the commit point, when it is not an I/O or hypervisor error: a
 * cancel, a policy abort, a refusal by the peer, a failure reported by the peer, a protocol violation.
 * Carries the outcome it leads to.
 */
public final class MigrationAbort extends Exception {

    private final MigrationResult.Outcome outcome;

    public MigrationAbort(MigrationResult.Outcome outcome, String reason) {
        super(reason, null, false, false);
        this.outcome = outcome;
    }

    public MigrationResult.Outcome outcome() {
        return outcome;
    }

    public static MigrationAbort cancelled() {
        return new MigrationAbort(MigrationResult.Outcome.CANCELLED, "cancelled");
    }

    public static MigrationAbort failed(String reason) {
        return new MigrationAbort(MigrationResult.Outcome.FAILED, reason);
    }

    /** The one-line reason a failure gives: its message, or its type when it has none. */
    public static String describe(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isEmpty() ? e.getClass().getSimpleName() : m;
    }
}
