package dev.migrationd.control.cli.file;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.cli.text.Units;
import dev.migrationd.control.v1.RestoreDomainRequest;
import dev.migrationd.control.v1.RestoreDomainResponse;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl restore FILE}. */
@Command(name = "restore", mixinStandardHelpOptions = true, description = {"Builds a domain from a save-stream FILE on the daemon's host",
        "(a relative FILE is made absolute here). Nothing is left behind when the stream is bad."})
public final class RestoreCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "FILE")
    Path file;

    @Option(names = "--name", paramLabel = "NAME", description = "The new domain's name (default: FILE's name without its extension).")
    String name;

    @Option(names = "--paused", description = "Leave the restored domain paused.")
    boolean paused;

    @Option(names = "--new-uuid", description = "Give the domain a new UUID, as a copy of the saved guest "
            + "(without it, restoring a guest whose UUID runs on that host is refused).")
    boolean newUuid;

    /** {@code /tmp/dom7.save} → {@code dom7}. */
    static String defaultName(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    @Override
    protected int call(Connection connection) {
        RestoreDomainRequest.Builder b = RestoreDomainRequest.newBuilder()
                .setPath(file.toAbsolutePath().normalize().toString()).setPaused(paused).setNewUuid(newUuid);
        b.setName(name != null ? name : defaultName(file));
        RestoreDomainResponse r = connection.blocking().restoreDomain(b.build());
        if (json()) {
            println(Render.json(r));
        } else {
            println("restored in " + Units.formatDuration(Render.duration(r.getDuration())));
            println(Render.domainTable(List.of(r.getDomain())));
        }
        return ExitCode.OK;
    }
}
