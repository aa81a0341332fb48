package dev.migrationd.control.cli.file;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.migrate.Follower;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.RestoreDomainRequest;
import dev.migrationd.control.v1.StartMigrationResponse;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl restore FILE}. */
@Command(name = "restore", mixinStandardHelpOptions = true, description = {"Builds a domain from a save-stream FILE on the daemon's host",
        "(a relative FILE is made absolute here). Nothing is left behind when the stream is bad.",
        "The restore runs in the daemon as an operation the CLI follows; Ctrl-C asks whether to cancel or detach."})
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

    @Mixin
    StartOptions start;

    @Override
    protected int call(Connection connection) throws Exception {
        RestoreDomainRequest request = RestoreDomainRequest.newBuilder()
                .setPath(file.toAbsolutePath().normalize().toString()).setPaused(paused).setNewUuid(newUuid)
                .setName(name != null ? name : defaultName(file))
                .setIdempotencyKey(start.key()).build();
        StartMigrationResponse started = Follower.startWithRetries(() -> connection.blocking().startRestore(request));
        Migration m = started.getMigration();
        int code = Follower.announceAndFollow(connection, started, (started.getCreated() ? "started" : "already started (same idempotency key)")
                + " restore " + m.getId() + ": " + Render.route(m) + " as " + m.getDomain(), start.detach, json(), out(), err());
        if (start.detach) {
            return code;
        }
        if (code == ExitCode.OK && !json()) {
            List<Domain> restored = connection.blocking().listDomains(ListDomainsRequest.getDefaultInstance()).getDomainsList()
                    .stream().filter(d -> d.getName().equals(m.getDomain())).toList();
            println(Render.domainTable(restored));
        }
        return code;
    }
}
