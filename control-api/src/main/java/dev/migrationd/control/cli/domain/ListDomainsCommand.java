package dev.migrationd.control.cli.domain;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.ListDomainsResponse;
import picocli.CommandLine.Command;

/** {@code migrationctl domains}. */
@Command(name = "domains", mixinStandardHelpOptions = true, description = "The domains on the daemon's host (* = a migration owns it).")
public final class ListDomainsCommand extends DaemonCommand {

    @Override
    protected int call(Connection connection) {
        ListDomainsResponse r = connection.blocking().listDomains(ListDomainsRequest.getDefaultInstance());
        if (json()) {
            for (Domain d : r.getDomainsList()) {
                println(Render.json(d));
            }
        } else {
            println("host " + r.getHost() + " (backend " + r.getBackend() + ")");
            println(Render.domainTable(r.getDomainsList()));
        }
        return ExitCode.OK;
    }
}
