package dev.migrationd.control.cli.domain;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code migrationctl domain create|destroy|inspect}: simulated domains (sim backend only). */
@Command(name = "domain", mixinStandardHelpOptions = true, description = "Simulated domains (the daemon's sim backend only; other backends refuse).",
        subcommands = {CreateDomainCommand.class, DestroyDomainCommand.class, InspectDomainCommand.class})
public final class DomainCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "domain: say create, destroy or inspect");
    }
}
