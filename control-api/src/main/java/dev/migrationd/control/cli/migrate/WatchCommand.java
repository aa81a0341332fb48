package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.Migration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code migrationctl watch ID}: follows a migration to its end, as {@code migrate} does. */
@Command(name = "watch", mixinStandardHelpOptions = true, description = "Follows a migration, a save or a restore: one line per phase and per round, then the summary. "
        + "Exit code as for migrate.")
public final class WatchCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "Migration id.")
    String id;

    @Override
    protected int call(Connection connection) throws Exception {
        Migration m = connection.blocking().getMigration(GetMigrationRequest.newBuilder().setId(id).build());
        Follower follower = Follower.of(connection, m, out(), err(), json());
        Interrupts.install(follower, err());
        return follower.follow();
    }
}
