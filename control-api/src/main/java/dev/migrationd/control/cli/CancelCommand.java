package dev.migrationd.control.cli;

import dev.migrationd.control.v1.CancelMigrationRequest;
import dev.migrationd.control.v1.CancelMigrationResponse;
import dev.migrationd.control.v1.Migration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code migrationctl cancel ID}. */
@Command(name = "cancel", mixinStandardHelpOptions = true, description = {"Asks a migration to stop before its commit point; the domain stays on the source.",
        "Returns once the daemon has taken the request; 'watch ID' shows how it ended."})
final class CancelCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "Migration id.")
    String id;

    @Override
    int call(ClientOptions.Connection connection) {
        CancelMigrationResponse r = connection.blocking().cancelMigration(CancelMigrationRequest.newBuilder().setId(id).build());
        Migration m = r.getMigration();
        println(client.json() ? Render.json(r) : "migration " + m.getId() + ": " + Render.name(r.getResult()).toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                + " (phase " + Render.name(m.getPhase()) + ")");
        return ExitCode.OK;
    }
}
