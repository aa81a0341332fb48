package dev.migrationd.daemon.engine.run;

import java.util.Objects;

/**
 * How an operator's decision on a migration in doubt ended.
 *
 * @param migrationId the migration
 * @param peerAnswer  what the destination answered when asked first ({@code committed}, {@code not_committed},
 *                    {@code unknown}, {@code pending}), or {@code unreachable}
 * @param decidedBy   who decided in the end: {@code operator}, or {@code destination} when its answer came
 *                    first (in agreement with the decision, or the call would have been refused)
 * @param phase       the migration's phase afterwards
 */
public record Resolved(String migrationId, String peerAnswer, String decidedBy, MigrationPhase phase) {
    public Resolved {
        Objects.requireNonNull(migrationId, "migrationId");
        Objects.requireNonNull(peerAnswer, "peerAnswer");
        Objects.requireNonNull(decidedBy, "decidedBy");
        Objects.requireNonNull(phase, "phase");
    }
}
