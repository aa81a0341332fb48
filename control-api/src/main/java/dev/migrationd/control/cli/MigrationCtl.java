package dev.migrationd.control.cli;

import io.grpc.StatusRuntimeException;
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
        CommandLine cl = new CommandLine(new MigrationCtl());
        DaemonCommands.register(cl);
        cl.setParameterExceptionHandler(MigrationCtl::usageError);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof StatusRuntimeException sre) {
                return DaemonCommands.exitCode(sre, commandLine);
            }
            throw ex;
        });
        return cl;
    }

    private static int usageError(CommandLine.ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        cl.getErr().println("migrationctl: " + ex.getMessage());
        cl.getErr().println("Try '" + cl.getCommandSpec().qualifiedName() + " --help'.");
        cl.getErr().flush();
        return ExitCode.USAGE;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
