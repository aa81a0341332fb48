package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.Migration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code migrationctl status ID}. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Shows one migration (running or finished). Exits 0 when it is known.")
public final class StatusCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "Migration id.")
    String id;

    @Override
    protected int call(Connection connection) {
        Migration m = connection.blocking().getMigration(GetMigrationRequest.newBuilder().setId(id).build());
        println(json() ? Render.json(m) : Render.status(m));
        return ExitCode.OK;
    }
}
