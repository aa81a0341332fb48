package dev.migrationd.control.cli;

/** The documented exit codes of every {@code migrationctl} command. */
public final class ExitCodes {
    /** Success; for {@code verify}: the stream is valid. */
    public static final int OK = 0;
    /** The input is not a valid stream (one line on stderr names the problem and its byte offset). */
    public static final int INVALID_STREAM = 1;
    /** Usage error: unknown or conflicting options, or an output file that exists without {@code --force}. */
    public static final int USAGE = 2;
    /** I/O error: a file cannot be read, written or moved into place. */
    public static final int IO = 3;
    /** A feature not implemented yet, or an internal error. */
    public static final int INTERNAL = 4;

    /** The help section listing them, shared by every command. */
    static final String HELP = """
            Exit codes:
              0  success (verify: the stream is valid)
              1  invalid stream: one line on stderr names the problem and its byte offset
              2  usage error, or the output exists and --force was not given
              3  I/O error (cannot read, write or move a file)
              4  not implemented yet, or internal error""";

    private ExitCodes() {
    }
}
