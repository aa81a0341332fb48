/**
 * What every command that talks to a daemon shares: {@link dev.migrationd.control.cli.daemon.DaemonCommand}, the
 * base class that connects for the duration of the command to the daemon the global {@code --daemon} names;
 * {@link dev.migrationd.control.cli.daemon.Connection}, a channel and its stubs;
 * {@link dev.migrationd.control.cli.daemon.StreamFormatOption}, {@code --stream-format}; and {@link dev.migrationd.control.cli.daemon.GrpcFailures}, the one place a failed call becomes a line
 * and an exit code.
 */
package dev.migrationd.control.cli.daemon;
