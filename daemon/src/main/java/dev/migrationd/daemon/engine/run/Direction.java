package dev.migrationd.daemon.engine.run;

/** Which end of a migration this daemon is, or which file operation it runs. */
public enum Direction {
    /** This daemon sends its domain away. */
    OUTGOING,
    /** This daemon receives a domain. */
    INCOMING,
    /** This daemon writes one of its domains to a file (the operation's peer is the file). */
    SAVE,
    /** This daemon builds a domain from a file (the operation's peer is the file). */
    RESTORE;

    /** Whether this is one end of a migration between two daemons (not a save or restore). */
    public boolean migration() {
        return this == OUTGOING || this == INCOMING;
    }
}
