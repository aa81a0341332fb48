package dev.migrationd.control.cli.file;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.daemon.StreamFormatOption;
import dev.migrationd.control.cli.migrate.Follower;
import dev.migrationd.control.cli.text.Converters;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.SaveDomainRequest;
import dev.migrationd.control.v1.StartMigrationResponse;
import dev.migrationd.control.v1.StreamFormat;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl save DOMAIN FILE}. */
@Command(name = "save", mixinStandardHelpOptions = true, description = {"Saves DOMAIN to FILE as a Xen save stream, written by the daemon on ITS host",
        "(a relative FILE is made absolute here). The domain is destroyed once saved unless --keep-running.",
        "The save runs in the daemon as an operation the CLI follows (progress, summary); Ctrl-C asks whether to",
        "cancel it (no file, the domain as before) or detach (it goes on: 'migrationctl watch ID')."})
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

    @Option(names = "--xl", description = {"Write FILE as 'xl save' does, for 'xl restore FILE': xl's header with the domain's",
            "libxl configuration, then a libxl v2 stream (implies --stream-format v2; refused for HVM guests)."})
    boolean xl;

    @Option(names = "--bandwidth", paramLabel = "RATE", converter = Converters.Rate.class,
            description = "Write the file at most this fast, e.g. 200MiB/s; 0 = no cap (default).")
    Long bandwidth;

    @Override
    protected void validate() {
        if (bandwidth != null && bandwidth < 0) {
            throw usage("--bandwidth must not be negative");
        }
        if (xl && streamFormat.get() == StreamFormat.STREAM_FORMAT_LEGACY) {
            throw usage("--xl writes a v2 stream (xl restore reads libxl's v2 format); --stream-format legacy cannot be used with it");
        }
    }

    @Mixin
    StartOptions start;

    @Override
    protected int call(Connection connection) throws Exception {
        SaveDomainRequest.Builder b = SaveDomainRequest.newBuilder().setDomain(domain)
                .setPath(file.toAbsolutePath().normalize().toString()).setLive(live).setForce(force)
                .setLeaveRunning(keepRunning).setXlFile(xl)
                .setIdempotencyKey(start.key());
        if (bandwidth != null) {
            b.setBandwidthBytesPerSecond(bandwidth);
        }
        if (streamFormat.get() != null) {
            b.setFormat(streamFormat.get());
        } else if (xl) {
            b.setFormat(StreamFormat.STREAM_FORMAT_V2);
        }
        SaveDomainRequest request = b.build();
        StartMigrationResponse started = Follower.startWithRetries(() -> connection.blocking().startSave(request));
        Migration m = started.getMigration();
        int code = Follower.announceAndFollow(connection, started, (started.getCreated() ? "started" : "already started (same idempotency key)")
                + " save " + m.getId() + ": " + m.getDomain() + " " + Render.route(m), start.detach, json(), out(), err());
        if (start.detach) {
            return code;
        }
        if (code == ExitCode.OK && !json()) {
            println(keepRunning ? "saved " + domain + " to " + m.getFile() + "; the domain keeps running"
                    : "saved " + domain + " to " + m.getFile() + "; the domain was destroyed");
        }
        return code;
    }
}
