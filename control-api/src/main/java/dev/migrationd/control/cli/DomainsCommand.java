package dev.migrationd.control.cli;

import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.ListDomainsResponse;
import picocli.CommandLine.Command;

/** {@code migrationctl domains}. */
@Command(name = "domains", mixinStandardHelpOptions = true, description = "The domains on the daemon's host (* = a migration owns it).")
final class DomainsCommand extends DaemonCommand {

    @Override
    int call(ClientOptions.Connection connection) {
        ListDomainsResponse r = connection.blocking().listDomains(ListDomainsRequest.getDefaultInstance());
        if (client.json()) {
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
