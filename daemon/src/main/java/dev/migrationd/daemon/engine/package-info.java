/**
 * The migration engine: moves a running domain to another daemon (pre-copy, stop-and-copy, the hand-over
 * that leaves exactly one running copy), saves a domain to a file and restores it, and keeps a journal that
 * survives restarts.
 *
 * <p>This package is the facade: {@link dev.migrationd.daemon.engine.MigrationEngine} (one per daemon) and
 * its {@link dev.migrationd.daemon.engine.EngineConfig}, over {@code Admission} (what may start, decided
 * before anything is allocated), {@code MigrationRegistry} (every migration known, and which domain each
 * holds), {@code Recovery} (what the journal says a previous run left) and {@code EngineContext} (what the
 * runs see of their engine). The sub-packages, which never depend on this one nor on each other in a cycle:
 * <ul>
 *   <li>{@code run}: one migration as callers and observers see it (request, options, info, phase, round
 *       statistics, result, handle, observer) and the base every migration runs on;</li>
 *   <li>{@code peer}: the port to other daemons, implemented by the transport, and the hand-over messages;</li>
 *   <li>{@code handover}: both sides of a migration and the resolution of one left in doubt;</li>
 *   <li>{@code precopy}: the pre-copy policies and the page sender;</li>
 *   <li>{@code stream}: the save stream on the source and on the destination side, legacy or v2;</li>
 *   <li>{@code guest}: what differs between PV and HVM guests, for both sides and both formats;</li>
 *   <li>{@code journal}: the write-ahead journal;</li>
 *   <li>{@code file}: save to a file and restore from one.</li>
 * </ul>
 * Transport, control and metrics use this package, {@code run}, {@code peer} and {@code file} only.
 * docs/architecture.md draws the data path in these classes' names.
 *
 * <p>Threads: one virtual thread per migration, in either direction, owns that migration's domain, dirty
 * log, throttle and peer connection; it blocks on backpressure, and observers run on it. Every public method
 * of the facade is thread-safe. Nothing here imports Netty, gRPC, Micrometer, protobuf or a concrete
 * hypervisor adapter (an ArchUnit test checks).
 */
package dev.migrationd.daemon.engine;
