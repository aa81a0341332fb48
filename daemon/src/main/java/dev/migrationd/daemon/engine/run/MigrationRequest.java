package dev.migrationd.daemon.engine.run;

import java.util.Objects;
import java.util.UUID;

/**
 * A request to migrate one domain to a named peer daemon.
 *
 * @param id             the migration id; {@link #of} generates one
 * @param idempotencyKey a client key: a second start with the same key returns the first migration
 *                       instead of starting another (null = none)
 * @param domain         name of the domain on this host
 * @param peer           name of the destination daemon, as configured in the peer map
 * @param options        how to migrate
 * @param destinationName the domain's name on the destination (null = the same name)
 */
public record MigrationRequest(String id, String idempotencyKey, String domain, String peer, MigrationOptions options,
                               String destinationName) {

    /** Longest accepted id, key, domain or peer name. */
    public static final int MAX_NAME_LENGTH = 128;

    public MigrationRequest {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(peer, "peer");
        Objects.requireNonNull(options, "options");
        checkName("migration id", id);
        checkName("domain", domain);
        checkName("peer", peer);
        if (destinationName != null) {
            checkName("destination name", destinationName);
        }
        if (idempotencyKey != null && (idempotencyKey.isEmpty() || idempotencyKey.length() > MAX_NAME_LENGTH)) {
            throw new IllegalArgumentException("idempotency key must be 1.." + MAX_NAME_LENGTH + " characters");
        }
    }

    /** A request that keeps the domain's name on the destination. */
    public MigrationRequest(String id, String idempotencyKey, String domain, String peer, MigrationOptions options) {
        this(id, idempotencyKey, domain, peer, options, null);
    }

    /** The domain's name on the destination. */
    public String nameThere() {
        return destinationName != null ? destinationName : domain;
    }

    /** A request with a generated id. */
    public static MigrationRequest of(String domain, String peer, MigrationOptions options) {
        return new MigrationRequest(newId(), null, domain, peer, options);
    }

    /** A fresh migration id. */
    public static String newId() {
        return UUID.randomUUID().toString();
    }

    public MigrationRequest withIdempotencyKey(String key) {
        return new MigrationRequest(id, key, domain, peer, options, destinationName);
    }

    /** The same request, giving the domain another name on the destination. */
    public MigrationRequest withDestinationName(String name) {
        return new MigrationRequest(id, idempotencyKey, domain, peer, options, name);
    }

    public static void checkName(String what, String value) {
        if (value.isEmpty() || value.length() > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException(what + " must be 1.." + MAX_NAME_LENGTH + " characters");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c <= ' ' || c == 0x7f) {
                throw new IllegalArgumentException(what + " must not contain spaces or control characters: '" + value + "'");
            }
        }
    }
}
