package dev.migrationd.control.cli;

import dev.migrationd.control.cli.daemon.GrpcFailures;
import dev.migrationd.control.cli.certs.CertsCommand;
import dev.migrationd.control.cli.domain.DomainCommand;
import dev.migrationd.control.cli.domain.ListDomainsCommand;
import dev.migrationd.control.cli.file.RestoreCommand;
import dev.migrationd.control.cli.file.SaveCommand;
import dev.migrationd.control.cli.migrate.CancelCommand;
import dev.migrationd.control.cli.migrate.ListMigrationsCommand;
import dev.migrationd.control.cli.migrate.MigrateCommand;
import dev.migrationd.control.cli.migrate.ResolveCommand;
import dev.migrationd.control.cli.migrate.StatusCommand;
import dev.migrationd.control.cli.migrate.WatchCommand;
import dev.migrationd.control.cli.stream.StreamCommand;
import dev.migrationd.protocol.StreamException;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code migrationctl}: the command-line front of migrationd. The command families live in sub-packages
 * ({@code migrate}, {@code domain}, {@code file}, {@code stream}); this class puts them together, adds shell
 * completion and the exit-code table to every help, and turns every failure into one line and an exit code.
 */
@Command(name = "migrationctl", mixinStandardHelpOptions = true, version = "migrationctl 0.1.0",
        description = "Live-migration control for migrationd daemons, and offline Xen save-stream tools.",
        subcommands = {CommandLine.HelpCommand.class, StreamCommand.class, MigrateCommand.class, StatusCommand.class,
            WatchCommand.class, CancelCommand.class, ResolveCommand.class, ListMigrationsCommand.class, ListDomainsCommand.class,
            DomainCommand.class, SaveCommand.class, RestoreCommand.class, CertsCommand.class})
public final class MigrationCtl implements Runnable {

    @Mixin(name = GlobalOptions.MIXIN)
    GlobalOptions global;

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
        return commandLine(GlobalOptions.Defaults.SYSTEM);
    }

    /** As {@link #commandLine()}, looking for the daemon where {@code defaults} say when no address is given. */
    public static CommandLine commandLine(GlobalOptions.Defaults defaults) {
        MigrationCtl root = new MigrationCtl();
        CommandLine cl = new CommandLine(root);
        root.global.defaults = defaults;
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.addSubcommand("completion", new AutoComplete.GenerateCompletion());
        cl.getSubcommands().get("completion").getCommandSpec().usageMessage()
                .description("Prints a bash/zsh completion script: source <(migrationctl completion)");
        Map<String, String> codes = new LinkedHashMap<>();
        for (String line : ExitCode.HELP) {
            int colon = line.indexOf(':');
            codes.put(line.substring(0, colon), line.substring(colon + 1));
        }
        exitCodeHelp(cl, codes); // one table for every command, the stream tools included
        cl.setParameterExceptionHandler(MigrationCtl::usageError);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> failure(ex, commandLine));
        return cl;
    }

    private static void exitCodeHelp(CommandLine cl, Map<String, String> codes) {
        cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
        for (CommandLine sub : cl.getSubcommands().values()) {
            exitCodeHelp(sub, codes);
        }
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
            return GrpcFailures.exitCode(sre, cl); // control-API failures: daemon commands' exit codes
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
