package dev.migrationd.control.cli;

/** An expected failure of a command: one line for stderr and the exit code to return. */
public final class CliException extends RuntimeException {
    private final int exitCode;

    public CliException(int exitCode, String message) {
        super(message, null, false, false);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }

    public static CliException notImplemented(String what) {
        return new CliException(ExitCode.INTERNAL, "not implemented yet: " + what);
    }
}
