package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.ListMigrationsRequest;
import dev.migrationd.control.v1.ListMigrationsResponse;
import dev.migrationd.control.v1.Migration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code migrationctl list}. */
@Command(name = "list", mixinStandardHelpOptions = true, description = "Recent migrations of the daemon's host, newest first (kept across restarts).")
public final class ListMigrationsCommand extends DaemonCommand {

    @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "At most N (1..1000). Default: ${DEFAULT-VALUE}.")
    int limit;

    @Override
    protected void validate() {
        if (limit < 1 || limit > 1000) {
            throw usage("--limit " + limit + ": must be 1..1000");
        }
    }

    @Override
    protected int call(Connection connection) {
        ListMigrationsResponse r = connection.blocking().listMigrations(ListMigrationsRequest.newBuilder().setLimit(limit).build());
        if (json()) {
            for (Migration m : r.getMigrationsList()) {
                println(Render.json(m));
            }
        } else {
            println(Render.migrationTable(r.getMigrationsList()));
        }
        return ExitCode.OK;
    }
}
