/**
 * The daemon's migration journal ({@link dev.migrationd.daemon.engine.journal.Journal}), a write-ahead log in the
 * state directory: checksummed records ({@link dev.migrationd.daemon.engine.journal.JournalFormat}), each forced
 * to disk before the engine acts on it; replay of the longest valid prefix
 * ({@link dev.migrationd.daemon.engine.journal.JournalReader}); no append after a failed one until repaired;
 * compaction that keeps what a peer may still ask about. The hand-over's commit rules rest on it (the source
 * journals COMMITTING before Go, the destination COMMITTED before it unpauses); recovery reads it back after a
 * restart, and an in-doubt answer comes from the last state it made durable.
 *
 * <p>Threads: appends, repair and compaction serialise on the journal's lock; reads of the last state are safe
 * from any thread.
 */
package dev.migrationd.daemon.engine.journal;
