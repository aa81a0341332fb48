package dev.migrationd.control.cli.file;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.daemon.StreamFormatOption;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.cli.text.Units;
import dev.migrationd.control.v1.SaveDomainRequest;
import dev.migrationd.control.v1.SaveDomainResponse;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl save DOMAIN FILE}. */
@Command(name = "save", mixinStandardHelpOptions = true, description = {"Saves DOMAIN to FILE as a Xen save stream, written by the daemon on ITS host",
        "(a relative FILE is made absolute here). The domain is destroyed once saved unless --keep-running."})
public final class SaveCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", paramLabel = "FILE")
    Path file;

    @Mixin
    StreamFormatOption streamFormat;

    @Option(names = "--live", description = "Pre-copy while the guest runs, pause only for the last round.")
    boolean live;

    @Option(names = "--force", description = "Overwrite FILE if it exists.")
    boolean force;

    @Option(names = "--keep-running", description = "Keep the domain running afterwards (like xl save -c); default: it is destroyed once saved.")
    boolean keepRunning;

    @Override
    protected int call(Connection connection) {
        SaveDomainRequest.Builder b = SaveDomainRequest.newBuilder().setDomain(domain)
                .setPath(file.toAbsolutePath().normalize().toString()).setLive(live).setForce(force)
                .setLeaveRunning(keepRunning);
        if (streamFormat.get() != null) {
            b.setFormat(streamFormat.get());
        }
        SaveDomainResponse r = connection.blocking().saveDomain(b.build());
        println(json() ? Render.json(r) : String.format(Locale.ROOT, "saved %s to %s: %s, %d rounds, paused %s", domain,
                r.getPath(), Units.formatBytes(r.getBytesWritten()), r.getRounds(),
                Units.formatDuration(Render.duration(r.getDuration()))));
        return ExitCode.OK;
    }
}
