package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.protocol.verify.Report;
import dev.migrationd.protocol.verify.StreamVerifier;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code migrationctl stream verify FILE}. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Reads the whole stream with migrationd's readers and checks it, HVM context included.",
            "Prints one summary line on success; on failure prints ONE line on stderr naming the problem "
                + "and its byte offset, and exits 1."}
        )
public final class StreamVerifyCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The stream to check.")
    Path file;

    @Mixin
    StreamOptions options;

    @Override
    public Integer call() throws Exception {
        Report r = StreamVerifier.verify(file, options.verifierOptions());
        spec.commandLine().getOut().println(file + ": valid " + StreamReportText.oneLine(r));
        spec.commandLine().getOut().flush();
        return ExitCode.OK;
    }
}
