package dev.migrationd.daemon.engine.run;

import dev.migrationd.protocol.GuestType;
import java.time.Instant;
import java.util.Objects;

/**
 * The fixed facts of one migration, as observers, metrics and the control API see them.
 *
 * @param id             migration id (shared by both ends)
 * @param idempotencyKey the client's key, or null
 * @param domain         domain name
 * @param peer           the other daemon's peer name
 * @param direction      outgoing (source) or incoming (destination)
 * @param guestType      PV or HVM
 * @param options        options of the migration
 * @param startedAt      wall-clock start
 */
public record MigrationInfo(String id, String idempotencyKey, String domain, String peer, Direction direction,
                            GuestType guestType, MigrationOptions options, Instant startedAt) {
    public MigrationInfo {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(peer, "peer");
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(guestType, "guestType");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(startedAt, "startedAt");
    }
}
