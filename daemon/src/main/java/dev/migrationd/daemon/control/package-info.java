/**
 * The control API: the gRPC {@code MigrationService} ({@link dev.migrationd.daemon.control.ControlService})
 * over the daemon's engine and hypervisor, its server ({@link dev.migrationd.daemon.control.ControlServer},
 * built from outside), the mapping between engine values and control-API messages, the replay-then-follow
 * event log behind WatchMigration ({@link dev.migrationd.daemon.control.EventHub}), and the one place where
 * failures become statuses ({@code Errors}).
 *
 * <p>Threads: gRPC calls the service on its executor threads, concurrently; the engine calls the event
 * log on each migration's own thread. The service keeps no mutable state; the event log guards its own.
 */
package dev.migrationd.daemon.control;
