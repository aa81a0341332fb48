package dev.migrationd.control.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.AutoComplete;
import picocli.CommandLine;

/**
 * The commands that talk to a daemon over the control API (migrate, status, watch, cancel, list,
 * domains, domain, save, restore), shell completion, their exit-code help, and the one place where a
 * gRPC failure becomes a line on stderr and an exit code ({@link #exitCode}).
 */
public final class DaemonCommands {

    private DaemonCommands() {
    }

    /** Adds the daemon commands and {@code completion} to {@code cl}, with the exit codes in every help. */
    public static void register(CommandLine cl) {
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
        exitCodeHelp(cl, codes); // one table for every command, the stream tools included
    }

    private static void exitCodeHelp(CommandLine cl, Map<String, String> codes) {
        cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
        for (CommandLine sub : cl.getSubcommands().values()) {
            exitCodeHelp(sub, codes);
        }
    }

    /** gRPC failures → one line on stderr and an exit code; the one place the CLI maps them. */
    static int exitCode(StatusRuntimeException e, CommandLine cl) {
        String addr = cl.getCommand() instanceof DaemonCommand dc ? dc.client.address() : "?";
        Status s = e.getStatus();
        String what = s.getDescription() == null ? s.getCode().toString() : s.getDescription();
        if (s.getCause() != null && s.getCause().getMessage() != null) {
            what = what + ": " + s.getCause().getMessage();
        }
        var err = cl.getErr();
        int code;
        if (s.getCode() == Status.Code.UNAVAILABLE || s.getCode() == Status.Code.DEADLINE_EXCEEDED) {
            err.println("migrationctl: cannot reach the daemon at " + addr + " (" + what
                    + "); is migrationd running there? Set --daemon HOST:PORT or $" + ClientOptions.ADDR_ENV + ".");
            code = ExitCode.UNREACHABLE;
        } else {
            err.println("migrationctl: " + s.getCode().name().toLowerCase(Locale.ROOT).replace('_', ' ') + ": " + what);
            code = ExitCode.REFUSED;
        }
        err.flush();
        return code;
    }
}
