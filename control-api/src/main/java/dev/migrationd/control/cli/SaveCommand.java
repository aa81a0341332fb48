package dev.migrationd.control.cli;

import dev.migrationd.control.v1.SaveDomainRequest;
import dev.migrationd.control.v1.SaveDomainResponse;
import dev.migrationd.control.v1.StreamFormat;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl save DOMAIN FILE}. */
@Command(name = "save", mixinStandardHelpOptions = true, description = {"Saves DOMAIN to FILE as a Xen save stream, written by the daemon on ITS host",
        "(a relative FILE is made absolute here). The domain is destroyed once saved unless --keep-running."})
final class SaveCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", paramLabel = "FILE")
    Path file;

    @Option(names = "--stream-format", paramLabel = "legacy|v2", converter = Converters.StreamFormatWords.class,
            completionCandidates = Converters.StreamFormatWords.class,
            description = "Stream format: legacy (default) or v2. (--format is the output format, as everywhere.)")
    StreamFormat streamFormat;

    @Option(names = "--live", description = "Pre-copy while the guest runs, pause only for the last round.")
    boolean live;

    @Option(names = "--force", description = "Overwrite FILE if it exists.")
    boolean force;

    @Option(names = "--keep-running", description = "Keep the domain running afterwards (like xl save -c); default: it is destroyed once saved.")
    boolean keepRunning;

    @Override
    int call(ClientOptions.Connection connection) {
        SaveDomainRequest.Builder b = SaveDomainRequest.newBuilder().setDomain(domain)
                .setPath(file.toAbsolutePath().normalize().toString()).setLive(live).setForce(force)
                .setLeaveRunning(keepRunning);
        if (streamFormat != null) {
            b.setFormat(streamFormat);
        }
        SaveDomainResponse r = connection.blocking().saveDomain(b.build());
        println(client.json() ? Render.json(r) : String.format(Locale.ROOT, "saved %s to %s: %s, %d rounds, paused %s", domain,
                r.getPath(), Units.formatBytes(r.getBytesWritten()), r.getRounds(),
                Units.formatDuration(Render.duration(r.getDuration()))));
        return ExitCode.OK;
    }
}
