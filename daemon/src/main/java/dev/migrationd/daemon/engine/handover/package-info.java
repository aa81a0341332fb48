/**
 * Both sides of the hand-over, the protocol that leaves exactly one running copy (docs/handover.md):
 * {@link dev.migrationd.daemon.engine.handover.OutgoingMigration} (the source: offer, pre-copy, stop-and-copy,
 * the commit point, Go) and {@link dev.migrationd.daemon.engine.handover.IncomingMigration} (the destination:
 * accept, apply the stream to a paused domain, Received, commit on Go, unpause), and
 * {@link dev.migrationd.daemon.engine.handover.InDoubtResolver} for a migration whose Go was sent but whose
 * Running was not heard: the source asks until the destination answers, the destination answers only from
 * what it knows. What a side needs from its engine is {@link dev.migrationd.daemon.engine.handover.HandoverContext}
 * and its {@link dev.migrationd.daemon.engine.handover.HandoverSettings}.
 *
 * <p>Threads: each migration runs on one virtual thread, which owns its domain, dirty log, throttle and
 * connection; a cancel from another thread only records itself and wakes it. In-doubt resolution runs on the
 * migration's thread (or recovery's), a Query's answer on the connection's.
 */
package dev.migrationd.daemon.engine.handover;
