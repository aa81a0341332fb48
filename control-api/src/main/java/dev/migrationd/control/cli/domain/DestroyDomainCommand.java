package dev.migrationd.control.cli.domain;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.v1.DestroyDomainRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code migrationctl domain destroy NAME}. */
@Command(name = "destroy", mixinStandardHelpOptions = true, description = "Destroys a simulated domain.")
public final class DestroyDomainCommand extends DaemonCommand {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Override
    protected int call(Connection connection) {
        connection.blocking().destroyDomain(DestroyDomainRequest.newBuilder().setName(name).build());
        println(json() ? "{\"destroyed\":\"" + name.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}"
                : "destroyed " + name);
        return ExitCode.OK;
    }
}
