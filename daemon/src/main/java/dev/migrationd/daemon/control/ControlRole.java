package dev.migrationd.daemon.control;

import java.util.Optional;

/**
 * What a caller of the control API may do. {@link #OPERATOR} includes everything {@link #READ_ONLY} may do.
 * The word is how configuration and refusals spell the role.
 */
public enum ControlRole {
    /** Look: list, status, watch, domains, inspect. */
    READ_ONLY("read-only"),
    /** Act: migrate, cancel, resolve, save, restore, create and destroy domains; and look. */
    OPERATOR("operator");

    private final String word;

    ControlRole(String word) {
        this.word = word;
    }

    /** The role as configuration and messages spell it. */
    public String word() {
        return word;
    }

    /** Whether a caller with this role may do what {@code needed} allows. */
    public boolean covers(ControlRole needed) {
        return compareTo(needed) >= 0;
    }

    /** The role spelled {@code word}, if any. */
    public static Optional<ControlRole> ofWord(String word) {
        for (ControlRole r : values()) {
            if (r.word.equals(word)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }
}
