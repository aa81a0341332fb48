/**
 * migrationd, the per-host daemon: the command line ({@code MigrationDaemon}), its configuration
 * ({@code DaemonConfig}), and the composition root ({@code Daemon}) that opens the hypervisor backend, the
 * engine, the metrics endpoint, the control API and the peer listener, and on close stops accepting, lets
 * the engine end its migrations safely and closes the rest in reverse order. {@code SimBackend} is the only
 * class here that knows the sim adapter.
 *
 * <p>Packages: {@code engine} (migrations, save and restore, the journal; it knows neither Netty nor gRPC nor
 * Micrometer), {@code transport} (the peer link over Netty), {@code control} (the gRPC control API),
 * {@code metrics} (Micrometer and the Prometheus endpoint). Threads: start and close run on one thread (main,
 * or the shutdown hook); each package says which threads it runs on.
 */
package dev.migrationd.daemon;
