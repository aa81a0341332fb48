package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.text.Json;
import dev.migrationd.protocol.verify.Report;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;

/** {@code migrationctl stream verify FILE}. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Reads the whole stream with migrationd's readers and checks it, HVM context included.",
            "Prints one summary line on success (with --format json: the file, \"valid\": true and what inspect "
                + "shows); on failure prints ONE line on stderr naming the problem and its byte offset, and exits 1."}
        )
public final class StreamVerifyCommand extends ReadStreamCommand {

    @Override
    String render(Report r, boolean json) {
        if (!json) {
            return file + ": valid " + StreamReportText.oneLine(r) + System.lineSeparator();
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", file.toString());
        m.put("valid", true);
        m.putAll(StreamReportText.map(r));
        return Json.write(m);
    }
}
