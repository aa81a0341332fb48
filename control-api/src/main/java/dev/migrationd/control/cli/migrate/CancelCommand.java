package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.CancelMigrationRequest;
import dev.migrationd.control.v1.CancelMigrationResponse;
import dev.migrationd.control.v1.Migration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code migrationctl cancel ID}. */
@Command(name = "cancel", mixinStandardHelpOptions = true, description = {"Asks a migration to stop before its commit point; the domain stays on the source.",
        "Returns once the daemon has taken the request; 'watch ID' shows how it ended."})
public final class CancelCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "Migration id.")
    String id;

    @Override
    protected int call(Connection connection) {
        CancelMigrationResponse r = connection.blocking().cancelMigration(CancelMigrationRequest.newBuilder().setId(id).build());
        Migration m = r.getMigration();
        println(json() ? Render.json(r) : "migration " + m.getId() + ": " + Render.name(r.getResult()).toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                + " (phase " + Render.name(m.getPhase()) + ")");
        return ExitCode.OK;
    }
}
