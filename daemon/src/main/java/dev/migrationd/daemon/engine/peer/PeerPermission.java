package dev.migrationd.daemon.engine.peer;

import java.util.Locale;
import java.util.Optional;

/**
 * What a peer may ask of this daemon. Deny by default: a peer may do only what its configuration
 * ({@code peer.NAME.allow = migrate,query}) lists.
 */
public enum PeerPermission {
    /** Send migrations here (this daemon builds and runs the guest it receives). */
    MIGRATE,
    /** Ask how a migration it sent here ended (the in-doubt Query after a lost Go/Running). */
    QUERY;

    /** The word used in the configuration. */
    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The permission a configuration word names, if any. */
    public static Optional<PeerPermission> ofWord(String word) {
        for (PeerPermission p : values()) {
            if (p.word().equals(word)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
