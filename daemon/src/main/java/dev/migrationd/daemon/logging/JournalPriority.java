package dev.migrationd.daemon.logging;

import ch.qos.logback.classic.Level;

/**
 * journald's view of a log line: when systemd connects stderr to the journal it sets {@code JOURNAL_STREAM},
 * and a line that starts with {@code <N>} (a syslog priority) is stored with that priority instead of the
 * unit's default. Elsewhere (a terminal, a file, a container runtime) nothing is added.
 */
final class JournalPriority {

    /** Whether this process logs into the journal: read once, the environment does not change. */
    static final boolean TO_JOURNAL = System.getenv("JOURNAL_STREAM") != null;

    private JournalPriority() {
    }

    /** The {@code <N>} prefix for {@code level} (err 3, warning 4, info 6, debug 7), or "" off the journal. */
    static String prefix(Level level) {
        if (!TO_JOURNAL) {
            return "";
        }
        return switch (level.toInt()) {
            case Level.ERROR_INT -> "<3>";
            case Level.WARN_INT -> "<4>";
            case Level.INFO_INT -> "<6>";
            default -> "<7>";
        };
    }
}
