package dev.migrationd.control.cli;

/**
 * The exit codes of {@code migrationctl}, the same for every command (also printed by {@code --help}).
 *
 * <pre>
 *   0   success (migrate/watch: the domain runs on the destination)
 *   1   the operation failed (migrate/watch: the migration failed or was aborted, the domain runs on the source)
 *   2   usage error: unknown option, bad value or unit
 *   3   the daemon could not be reached (address, not running, timed out)
 *   4   the daemon refused the request (no such domain or migration, bad argument, not supported, ...)
 *   5   the migration was cancelled (the domain runs on the source)
 *   130 interrupted (Ctrl-C) and detached without cancelling; the migration goes on
 * </pre>
 */
public final class ExitCode {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;
    public static final int UNREACHABLE = 3;
    public static final int REFUSED = 4;
    public static final int CANCELLED = 5;
    public static final int INTERRUPTED = 130;

    /** The help text listing them (picocli exit-code list: "code:description"). */
    static final String[] HELP = {
        "0:success (migrate/watch: the domain runs on the destination)",
        "1:the operation failed; migrate/watch: failed or aborted (the domain runs on the source)",
        "2:usage error: unknown option, bad value or unit",
        "3:the daemon could not be reached",
        "4:the daemon refused the request (not found, bad argument, unsupported, ...)",
        "5:the migration was cancelled (the domain runs on the source)",
        "130:interrupted and detached; the migration goes on",
    };

    private ExitCode() {
    }
}
