package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.text.Json;
import dev.migrationd.protocol.verify.Report;
import dev.migrationd.protocol.verify.StreamVerifier;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl stream inspect FILE}. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Summarises a stream: format and layer, widths, guest type, p2m size, every chunk or "
            + "record type with counts and bytes, pages by type, checkpoints, and the tail.",
            "The stream is read completely; an invalid stream is reported as by 'verify' (exit 1)."}
        )
public final class StreamInspectCommand implements Callable<Integer> {

    enum OutputFormat { text, json }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The stream to inspect.")
    Path file;

    @Option(names = "--format", paramLabel = "text|json", defaultValue = "text",
            description = "Output format (default: ${DEFAULT-VALUE}).")
    OutputFormat format;

    @Mixin
    StreamOptions options;

    @Override
    public Integer call() throws Exception {
        Report r = StreamVerifier.verify(file, options.verifierOptions());
        var out = spec.commandLine().getOut();
        out.print(format == OutputFormat.json ? Json.write(StreamReportText.map(r)) : StreamReportText.text(r));
        out.flush();
        return ExitCode.OK;
    }
}
