/**
 * The migration engine (DESIGN.md "Data path", "Hand-over", "Pre-copy and convergence").
 *
 * <p>Facade: {@link dev.migrationd.daemon.engine.MigrationEngine} (one per daemon) with
 * {@link dev.migrationd.daemon.engine.run.MigrationRequest}, {@link dev.migrationd.daemon.engine.run.MigrationOptions},
 * the sealed {@link dev.migrationd.daemon.engine.run.MigrationPhase}, {@link dev.migrationd.daemon.engine.run.RoundStats}
 * and {@link dev.migrationd.daemon.engine.run.MigrationObserver}. Ports it needs from outside: the
 * {@code Hypervisor} interface, a state directory (journal) and a
 * {@link dev.migrationd.daemon.engine.peer.PeerConnector} (implemented by the transport package).
 *
 * <p>Threads: one virtual thread per migration, in either direction, owns that migration's domain,
 * dirty log, throttle and peer connection; it blocks on backpressure. Observers run on it. Nothing here
 * imports Netty, gRPC, Micrometer, protobuf or a concrete hypervisor adapter (an ArchUnit test checks).
 */
package dev.migrationd.daemon.engine;
