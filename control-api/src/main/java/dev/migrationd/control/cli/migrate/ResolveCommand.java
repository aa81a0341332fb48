package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.ResolveDecision;
import dev.migrationd.control.v1.ResolveMigrationRequest;
import dev.migrationd.control.v1.ResolveMigrationResponse;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl resolve ID --resume-source|--confirm-destination}, sent to the source's daemon. */
@Command(name = "resolve", mixinStandardHelpOptions = true, description = {
        "Decides a migration in doubt that the source daemon cannot settle on its own (the destination has no record",
        "of it, or cannot be reached); its guest stays paused on the source until then. Check first where the guest",
        "must run. The destination is asked again before anything is done, and a decision its answer contradicts is",
        "refused. Send it to the source's daemon."})
public final class ResolveCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "Migration id (as the source lists it).")
    String id;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Decision decision;

    static final class Decision {
        @Option(names = "--resume-source", required = true,
                description = "The destination did not commit: resume the guest on the source.")
        boolean resumeSource;

        @Option(names = "--confirm-destination", required = true,
                description = "The guest runs on the destination: destroy the paused copy on the source.")
        boolean confirmDestination;
    }

    @Override
    protected int call(Connection connection) {
        ResolveDecision d = decision.resumeSource ? ResolveDecision.RESOLVE_DECISION_RESUME_SOURCE
                : ResolveDecision.RESOLVE_DECISION_CONFIRM_DESTINATION;
        ResolveMigrationResponse r = connection.blocking().resolveMigration(
                ResolveMigrationRequest.newBuilder().setId(id).setDecision(d).build());
        Migration m = r.getMigration();
        println(json() ? Render.json(r) : "migration " + m.getId() + ": decided by the " + r.getDecidedBy()
                + " (the destination answered " + r.getPeerAnswer().replace('_', ' ') + "); phase " + Render.name(m.getPhase()));
        return ExitCode.OK;
    }
}
