/**
 * {@code migrationctl}, the command line of migrationd. {@link dev.migrationd.control.cli.MigrationCtl} is the
 * root command: it puts the command families together, adds shell completion and the exit-code table
 * ({@link dev.migrationd.control.cli.ExitCode}) to every help, and turns every failure into one line on stderr
 * and an exit code; a command's expected failure is a {@link dev.migrationd.control.cli.CliException}.
 * {@link dev.migrationd.control.cli.GlobalOptions} ({@code --daemon}, {@code --format}) are accepted before or
 * after any command.
 *
 * <p>The families, one package each: {@code migrate} (migrate, status, watch, cancel, list), {@code domain}
 * (domains, domain create|destroy|inspect), {@code file} (save, restore), {@code stream} (the offline stream
 * tools: synth, inspect, verify, convert); {@code daemon} is what every daemon command shares (base class,
 * connection, gRPC failures), {@code text} how values look on the command line and the terminal.
 */
package dev.migrationd.control.cli;
