package dev.migrationd.control.cli.domain;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.DomainDetails;
import dev.migrationd.control.v1.InspectDomainRequest;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code migrationctl domain inspect NAME}: memory hash, workload counter, a-b check. */
@Command(name = "inspect", mixinStandardHelpOptions = true, description = {"A simulated domain's memory hash, workload counter and a-b check.",
        "Exits 1 when the a-b check ran and failed."})
public final class InspectDomainCommand extends DaemonCommand {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Override
    protected int call(Connection connection) {
        DomainDetails d = connection.blocking().inspectDomain(InspectDomainRequest.newBuilder().setName(name).build());
        if (json()) {
            println(Render.json(d));
        } else {
            println(Render.domainTable(List.of(d.getDomain())));
            println("memory hash       " + d.getMemoryHash());
            println("workload counter  " + d.getWorkloadCounter());
            println("a-b check         " + (d.getAbChecked() ? (d.getAbOk() ? "ok" : "FAILED") + " (" + d.getAbDetail() + ")" : "not run (pattern is not ab)"));
        }
        return d.getAbChecked() && !d.getAbOk() ? ExitCode.FAILED : ExitCode.OK;
    }
}
