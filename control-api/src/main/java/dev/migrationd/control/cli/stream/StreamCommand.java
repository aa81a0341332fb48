package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.ExitCode;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code migrationctl stream}: offline tools for Xen save streams. */
@Command(name = "stream", mixinStandardHelpOptions = true,
        description = "Offline tools for Xen save streams (legacy 4.0-4.5 and v2).",
        subcommands = {StreamInspectCommand.class, StreamVerifyCommand.class, StreamConvertCommand.class,
            StreamSynthCommand.class}
        )
public final class StreamCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCode.USAGE;
    }
}
