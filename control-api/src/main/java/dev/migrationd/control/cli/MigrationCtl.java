package dev.migrationd.control.cli;

import dev.migrationd.protocol.StreamException;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code migrationctl}: the command-line front of migrationd. */
@Command(name = "migrationctl", mixinStandardHelpOptions = true, version = "migrationctl 0.1.0",
        description = "Live-migration control for migrationd daemons, and offline Xen save-stream tools.",
        subcommands = {CommandLine.HelpCommand.class, StreamCommand.class})
public final class MigrationCtl implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    /**
     * The configured command line: exit codes as {@link ExitCode} documents, every expected failure as one
     * line on stderr ("migrationctl: ..."), no stack traces.
     */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new MigrationCtl());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        DaemonCommands.register(cl);
        cl.setParameterExceptionHandler(MigrationCtl::usageError);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> failure(ex, commandLine));
        return cl;
    }

    private static int usageError(CommandLine.ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        cl.getErr().println("migrationctl: " + ex.getMessage());
        cl.getErr().println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for more information.");
        cl.getErr().flush();
        return ExitCode.USAGE;
    }

    private static int failure(Exception ex, CommandLine cl) {
        if (ex instanceof StatusRuntimeException sre) {
            return DaemonCommands.exitCode(sre, cl); // control-API failures: daemon commands' exit codes
        }
        int code;
        String line;
        switch (ex) {
            case CliException c -> {
                code = c.exitCode();
                line = c.getMessage();
            }
            case StreamException s -> {
                code = ExitCode.INVALID_STREAM;
                line = "invalid stream: " + s.getMessage();
            }
            case NoSuchFileException n -> {
                code = ExitCode.IO;
                line = "no such file: " + n.getFile();
            }
            case AccessDeniedException a -> {
                code = ExitCode.IO;
                line = "permission denied: " + a.getFile();
            }
            case IOException io -> {
                code = ExitCode.IO;
                line = "I/O error: " + io.getMessage();
            }
            case UncheckedIOException io -> {
                code = ExitCode.IO;
                line = "I/O error: " + io.getCause().getMessage();
            }
            default -> {
                code = ExitCode.INTERNAL;
                line = "internal error: " + ex;
            }
        }
        cl.getErr().println("migrationctl: " + line.replace('\n', ' '));
        cl.getErr().flush();
        return code;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
