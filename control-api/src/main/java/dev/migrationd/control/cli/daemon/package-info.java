/**
 * What every command that talks to a daemon shares: {@link dev.migrationd.control.cli.daemon.DaemonCommand}, the
 * base class that connects for the duration of the command; {@link dev.migrationd.control.cli.daemon.ClientOptions}
 * ({@code --daemon}, {@code --format}); {@link dev.migrationd.control.cli.daemon.Connection}, a channel and its
 * stubs; and {@link dev.migrationd.control.cli.daemon.GrpcFailures}, the one place a failed call becomes a line
 * and an exit code.
 */
package dev.migrationd.control.cli.daemon;
