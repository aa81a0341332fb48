package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code migrationctl watch ID}: follows a migration to its end, as {@code migrate} does. */
@Command(name = "watch", mixinStandardHelpOptions = true, description = "Follows a migration: one line per phase and per round, then the summary. "
        + "Exit code as for migrate.")
public final class WatchCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "Migration id.")
    String id;

    @Override
    protected int call(Connection connection) throws Exception {
        Follower follower = new Follower(connection, id, out(), err(), json());
        Interrupts.install(follower, id, err());
        return follower.follow();
    }
}
