/**
 * The engine's port to other daemons: {@link dev.migrationd.daemon.engine.peer.PeerConnector} (outgoing
 * connections by peer name) and {@link dev.migrationd.daemon.engine.peer.PeerConnection} (hand-over messages
 * and save-stream bytes on one ordered channel), both implemented by the transport, and the
 * {@link dev.migrationd.daemon.engine.peer.HandoverMessage}s that travel on it (docs/handover.md). Nothing here
 * knows protobuf or Netty: the transport maps the messages to its envelope.
 *
 * <p>Threads: one migration's thread owns a connection; only {@code close} and {@code wake} may come from
 * another thread (a cancel), and make a blocked call fail.
 */
package dev.migrationd.daemon.engine.peer;
