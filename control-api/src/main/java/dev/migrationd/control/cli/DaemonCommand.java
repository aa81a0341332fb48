package dev.migrationd.control.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A command that talks to one daemon: it gets {@code --daemon} and {@code --format}, a connection for the
 * duration of {@link #call(ClientOptions.Connection)}, stdout for results and stderr for diagnostics.
 * gRPC failures are turned into messages and exit codes by {@link MigrationCtl} in one place.
 */
abstract class DaemonCommand implements Callable<Integer> {

    @Mixin
    ClientOptions client;

    @Spec
    CommandSpec spec;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** Prints a result line (text or JSON) and flushes, so progress shows at once. */
    void println(String line) {
        out().println(line);
        out().flush();
    }

    @Override
    public final Integer call() throws Exception {
        validate();
        ClientOptions.Connection c;
        try {
            c = client.connect();
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        try (ClientOptions.Connection connection = c) {
            return call(connection);
        }
    }

    /** Checks option combinations before connecting; throws {@link picocli.CommandLine.ParameterException}. */
    void validate() {
    }

    abstract int call(ClientOptions.Connection connection) throws Exception;

    picocli.CommandLine.ParameterException usage(String message) {
        return new picocli.CommandLine.ParameterException(spec.commandLine(), message);
    }
}
