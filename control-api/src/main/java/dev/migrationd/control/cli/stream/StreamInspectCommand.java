package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.text.Json;
import dev.migrationd.protocol.verify.Report;
import picocli.CommandLine.Command;

/** {@code migrationctl stream inspect FILE}. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Summarises a stream: format and layer, widths, guest type, p2m size, every chunk or "
            + "record type with counts and bytes, pages by type, checkpoints, and the tail.",
            "The stream is read completely; an invalid stream is reported as by 'verify' (exit 1)."}
        )
public final class StreamInspectCommand extends ReadStreamCommand {

    @Override
    String render(Report r, boolean json) {
        return json ? Json.write(StreamReportText.map(r)) : StreamReportText.text(r);
    }
}
