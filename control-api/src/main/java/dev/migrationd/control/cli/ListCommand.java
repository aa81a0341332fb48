package dev.migrationd.control.cli;

import dev.migrationd.control.v1.ListMigrationsRequest;
import dev.migrationd.control.v1.ListMigrationsResponse;
import dev.migrationd.control.v1.Migration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code migrationctl list}. */
@Command(name = "list", mixinStandardHelpOptions = true, description = "Recent migrations of the daemon's host, newest first (kept across restarts).")
final class ListCommand extends DaemonCommand {

    @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "At most N (1..1000). Default: ${DEFAULT-VALUE}.")
    int limit;

    @Override
    void validate() {
        if (limit < 1 || limit > 1000) {
            throw usage("--limit " + limit + ": must be 1..1000");
        }
    }

    @Override
    int call(ClientOptions.Connection connection) {
        ListMigrationsResponse r = connection.blocking().listMigrations(ListMigrationsRequest.newBuilder().setLimit(limit).build());
        if (client.json()) {
            for (Migration m : r.getMigrationsList()) {
                println(Render.json(m));
            }
        } else {
            println(Render.migrationTable(r.getMigrationsList()));
        }
        return ExitCode.OK;
    }
}
