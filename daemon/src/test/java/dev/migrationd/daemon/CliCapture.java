package dev.migrationd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.migrationd.control.cli.MigrationCtl;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** migrationctl run in the test JVM, as a user runs it, with what it printed captured. */
public final class CliCapture {

    private CliCapture() {
    }

    /** Exit code (what {@code bin/migrationctl} exits with) and the two streams. */
    public record Output(int code, String out, String err) {
    }

    public static Output run(String... args) {
        CommandLine cl = MigrationCtl.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Output(code, out.toString(), err.toString());
    }

    /** {@link #run}, asserting success. */
    public static Output ok(String... args) {
        Output o = run(args);
        assertEquals(0, o.code(), String.join(" ", args) + "\n" + o.out() + o.err());
        return o;
    }
}
