package dev.migrationd.control.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code migrationctl}: the command-line front of migrationd. */
@Command(name = "migrationctl", mixinStandardHelpOptions = true, version = "migrationctl 0.1.0",
        description = "Live-migration control for migrationd daemons, and offline Xen save-stream tools.",
        subcommands = {CommandLine.HelpCommand.class})
public final class MigrationCtl implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static CommandLine commandLine() {
        return new CommandLine(new MigrationCtl());
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
