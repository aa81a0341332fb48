package dev.migrationd.control.cli;

/**
 * The exit codes of {@code migrationctl}: one table for every command, printed by every {@code --help}.
 *
 * <pre>
 *   0   success (migrate/watch: the domain runs on the destination; stream verify: the stream is valid)
 *   1   the operation failed (migrate/watch: failed or aborted, the domain runs on the source;
 *       stream tools: invalid stream, one line on stderr names the problem and its byte offset)
 *   2   usage error: unknown option, bad value or unit, or an output file exists and --force was not given
 *   3   the daemon could not be reached (address, not running, timed out)
 *   4   the daemon refused the request (no such domain or migration, bad argument, not supported, ...)
 *   5   the migration was cancelled (the domain runs on the source)
 *   6   I/O error: a local file cannot be read, written or moved into place
 *   7   not implemented yet, or an internal error
 *   130 interrupted (Ctrl-C) and detached without cancelling; the migration goes on
 * </pre>
 */
public final class ExitCode {
    public static final int OK = 0;
    public static final int FAILED = 1;
    /** The stream tools' failure: the same code as {@link #FAILED}. */
    public static final int INVALID_STREAM = FAILED;
    public static final int USAGE = 2;
    public static final int UNREACHABLE = 3;
    public static final int REFUSED = 4;
    public static final int CANCELLED = 5;
    public static final int IO = 6;
    public static final int INTERNAL = 7;
    public static final int INTERRUPTED = 130;

    /** The help text listing them (picocli exit-code list: "code:description"). */
    static final String[] HELP = {
        "0:success (migrate/watch: the domain runs on the destination; stream verify: the stream is valid)",
        "1:failed; migrate/watch: failed or aborted (the domain runs on the source); stream tools: invalid stream",
        "2:usage error: unknown option, bad value or unit, or the output exists and --force was not given",
        "3:the daemon could not be reached",
        "4:the daemon refused the request (not found, bad argument, unsupported, ...)",
        "5:the migration was cancelled (the domain runs on the source)",
        "6:I/O error: a local file cannot be read, written or moved into place",
        "7:not implemented yet, or internal error",
        "130:interrupted and detached; the migration goes on",
    };

    private ExitCode() {
    }
}
