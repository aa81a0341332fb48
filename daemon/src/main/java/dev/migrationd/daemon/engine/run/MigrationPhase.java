package dev.migrationd.daemon.engine.run;

/**
 * Where a migration is. Per-phase data lives in the phase record, so an illegal combination (a round
 * number outside pre-copy, a reason on success) cannot be written.
 *
 * <p>Source order: Offered → PreCopy(0) → PreCopy(1) … → StopAndCopy → Tail → AwaitingReceived →
 * Committing → Done, or InDoubt between Committing and Done when the destination's Running is lost.
 * Destination order: Offered → Receiving → AwaitingGo → Committing → Done. Any phase before the commit
 * point may end in Failed or Cancelled.
 */
public sealed interface MigrationPhase {

    /** Short name for logs, metrics and the control API, e.g. {@code "pre-copy"}. */
    String name();

    /** Whether the migration is over. */
    default boolean terminal() {
        return false;
    }

    /** Whether the commit point (Go) has been passed: cancellation is no longer possible. */
    default boolean pastCommitPoint() {
        return false;
    }

    /** Source: the offer is sent, waiting for Accept. Destination: the offer arrived and is checked. */
    record Offered() implements MigrationPhase {
        public String name() {
            return "offered";
        }
    }

    /** Source: live pre-copy round {@code round} (0 sends every populated page). */
    record PreCopy(int round) implements MigrationPhase {
        public PreCopy {
            if (round < 0) {
                throw new IllegalArgumentException("round must not be negative: " + round);
            }
        }

        public String name() {
            return "pre-copy";
        }
    }

    /** Source: the guest is paused and the last dirty pages are sent. */
    record StopAndCopy() implements MigrationPhase {
        public String name() {
            return "stop-and-copy";
        }
    }

    /** Source: the tail (vCPU and platform state) is sent. */
    record Tail() implements MigrationPhase {
        public String name() {
            return "tail";
        }
    }

    /** Destination: the stream is arriving and being applied to the new, paused domain. */
    record Receiving() implements MigrationPhase {
        public String name() {
            return "receiving";
        }
    }

    /** Source: the whole stream is sent; waiting for the destination's Received or Failed. */
    record AwaitingReceived() implements MigrationPhase {
        public String name() {
            return "awaiting-received";
        }
    }

    /** Destination: the domain is fully built and paused; waiting for Go. */
    record AwaitingGo() implements MigrationPhase {
        public String name() {
            return "awaiting-go";
        }
    }

    /** Past the commit point: COMMITTING (source) or COMMITTED (destination) is journaled. */
    record Committing() implements MigrationPhase {
        public String name() {
            return "committing";
        }

        public boolean pastCommitPoint() {
            return true;
        }
    }

    /** Source: Go was sent but Running not heard; the source copy stays paused while the peer is asked. */
    record InDoubt(String why) implements MigrationPhase {
        public String name() {
            return "in-doubt";
        }

        public boolean pastCommitPoint() {
            return true;
        }
    }

    /** Success: exactly one copy runs, on the destination. */
    record Done() implements MigrationPhase {
        public String name() {
            return "done";
        }

        public boolean terminal() {
            return true;
        }

        public boolean pastCommitPoint() {
            return true;
        }
    }

    /**
     * Failure: the guest runs on the source (or, for an in-doubt migration the destination resolved as
     * committed, see {@link MigrationResult}); the destination's partial domain is gone.
     */
    record Failed(String reason) implements MigrationPhase {
        public Failed {
            java.util.Objects.requireNonNull(reason, "reason");
        }

        public String name() {
            return "failed";
        }

        public boolean terminal() {
            return true;
        }
    }

    /** Cancelled before the commit point: the guest runs on the source. */
    record Cancelled() implements MigrationPhase {
        public String name() {
            return "cancelled";
        }

        public boolean terminal() {
            return true;
        }
    }
}
