package dev.migrationd.control.cli.daemon;

import dev.migrationd.control.cli.GlobalOptions;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The base of every command that talks to one daemon: it dials the daemon the global {@code --daemon} names and
 * prints as {@code --format} says ({@link GlobalOptions}), with a connection for the duration of
 * {@link #call(Connection)}, stdout for results and stderr for diagnostics.
 * gRPC failures are turned into messages and exit codes in one place, {@link GrpcFailures}. Runs on the thread
 * that executes the command line.
 */
public abstract class DaemonCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    protected final PrintWriter out() {
        return spec.commandLine().getOut();
    }

    protected final PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** Prints a result line (text or JSON) and flushes, so progress shows at once. */
    protected final void println(String line) {
        out().println(line);
        out().flush();
    }

    /** Whether results are printed as JSON ({@code --format json}). */
    protected final boolean json() {
        return GlobalOptions.of(spec).json();
    }

    @Override
    public final Integer call() throws Exception {
        validate();
        Connection c;
        try {
            GlobalOptions g = GlobalOptions.of(spec);
            c = Connection.open(g.address(), g.tls());
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        try (Connection connection = c) {
            return call(connection);
        }
    }

    /** Checks option combinations before connecting; throws {@link ParameterException}. */
    protected void validate() {
    }

    /** Runs the command over an open connection; returns its exit code. */
    protected abstract int call(Connection connection) throws Exception;

    /** A usage error (exit code 2) naming the problem. */
    protected final ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
