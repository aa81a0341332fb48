/**
 * Migrations: {@code migrate} starts one and follows it, {@code watch} follows one, {@code status},
 * {@code cancel} and {@code list}. {@link dev.migrationd.control.cli.migrate.Follower} prints a migration's events
 * in order and turns its outcome into an exit code; {@link dev.migrationd.control.cli.migrate.Interrupts} asks
 * what Ctrl-C should do.
 */
package dev.migrationd.control.cli.migrate;
