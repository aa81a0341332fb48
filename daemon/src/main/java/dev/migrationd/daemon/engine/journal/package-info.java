/**
 * The daemon's migration journal ({@link dev.migrationd.daemon.engine.journal.Journal}): one line per event in
 * the state directory, each forced to disk before the engine acts on it. The hand-over's commit rules rest on
 * it (the source journals COMMITTING before Go, the destination COMMITTED before it unpauses); recovery reads
 * it back after a restart, and an in-doubt answer comes from the last state it made durable.
 *
 * <p>Threads: appends and reads of the last state are safe from any thread.
 */
package dev.migrationd.daemon.engine.journal;
