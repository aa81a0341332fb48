package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.GlobalOptions;
import dev.migrationd.protocol.verify.Report;
import dev.migrationd.protocol.verify.StreamVerifier;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * A stream command that reads a whole stream with the verifier and prints what it found, as text or JSON
 * ({@code --format}); an invalid stream is a StreamException, one line on stderr and exit 1.
 */
abstract class ReadStreamCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The stream to read.")
    Path file;

    @Mixin
    StreamOptions options;

    @Override
    public final Integer call() throws Exception {
        Report r = StreamVerifier.verify(file, options.verifierOptions());
        PrintWriter out = spec.commandLine().getOut();
        out.print(render(r, GlobalOptions.of(spec).json()));
        out.flush();
        return ExitCode.OK;
    }

    /** What to print for a valid stream, with its line end. */
    abstract String render(Report r, boolean json);
}
