package dev.migrationd.control.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.AutoComplete;
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
        addDaemonCommands(cl);
        return cl;
    }

    /** The commands that talk to a daemon over the control API, plus shell completion and exit-code help. */
    static void addDaemonCommands(CommandLine cl) {
        cl.addSubcommand(new MigrateCommand());
        cl.addSubcommand(new StatusCommand());
        cl.addSubcommand(new WatchCommand());
        cl.addSubcommand(new CancelCommand());
        cl.addSubcommand(new ListCommand());
        cl.addSubcommand(new DomainsCommand());
        cl.addSubcommand(new DomainCommand());
        cl.addSubcommand(new SaveCommand());
        cl.addSubcommand(new RestoreCommand());
        cl.addSubcommand("completion", new AutoComplete.GenerateCompletion());
        cl.getSubcommands().get("completion").getCommandSpec().usageMessage()
                .description("Prints a bash/zsh completion script: source <(migrationctl completion)");
        Map<String, String> codes = new LinkedHashMap<>();
        for (String line : ExitCode.HELP) {
            int colon = line.indexOf(':');
            codes.put(line.substring(0, colon), line.substring(colon + 1));
        }
        applyExitCodeHelp(cl, codes);
        cl.setExecutionExceptionHandler(MigrationCtl::handle);
        cl.setParameterExceptionHandler((ex, args) -> {
            var err = ex.getCommandLine().getErr();
            err.println("migrationctl: " + ex.getMessage());
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName(" ") + " --help'.");
            err.flush();
            return ExitCode.USAGE;
        });
    }

    private static void applyExitCodeHelp(CommandLine cl, Map<String, String> codes) {
        cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
        for (CommandLine sub : cl.getSubcommands().values()) {
            applyExitCodeHelp(sub, codes);
        }
    }

    /** gRPC failures → one line on stderr and an exit code; the one place the CLI maps them. */
    static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parseResult) throws Exception {
        if (!(e instanceof StatusRuntimeException sre)) {
            throw e;
        }
        String addr = cl.getCommand() instanceof DaemonCommand dc ? dc.client.address() : "?";
        Status s = sre.getStatus();
        String what = s.getDescription() == null ? s.getCode().toString() : s.getDescription();
        if (s.getCause() != null && s.getCause().getMessage() != null) {
            what = what + ": " + s.getCause().getMessage();
        }
        var err = cl.getErr();
        switch (s.getCode()) {
            case UNAVAILABLE, DEADLINE_EXCEEDED -> {
                err.println("migrationctl: cannot reach the daemon at " + addr + " (" + what
                        + "); is migrationd running there? Set --daemon HOST:PORT or $" + ClientOptions.ADDR_ENV + ".");
                err.flush();
                return ExitCode.UNREACHABLE;
            }
            default -> {
                err.println("migrationctl: " + s.getCode().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                        + ": " + what);
                err.flush();
                return ExitCode.REFUSED;
            }
        }
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
