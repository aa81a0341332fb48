package dev.migrationd.daemon.engine.run;

/** Which end of a migration this daemon is. */
public enum Direction {
    /** This daemon sends its domain away. */
    OUTGOING,
    /** This daemon receives a domain. */
    INCOMING
}
