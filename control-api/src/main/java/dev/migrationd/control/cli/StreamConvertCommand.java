package dev.migrationd.control.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl stream convert IN OUT --to v2}. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Converts a legacy stream to v2 in-process, as Xen's convert-legacy-stream does, but keeping "
                + "every Remus checkpoint and the PV unmapped PFNs (as XTAB entries). Width and guest type are "
                + "detected unless given. An xl header is kept, with its STREAMv2 flag set (libxl layer only).",
            "TMEM and compressed Remus checkpoints have no v2 equivalent: such input is refused (exit 1).",
            "OUT is written to a temporary file next to it and moved into place only when complete."}
        )
final class StreamConvertCommand implements Callable<Integer> {

    enum Target { v2 }

    enum Layer { libxc, libxl }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN", description = "The legacy stream.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "The v2 stream to write.")
    Path out;

    @Option(names = "--to", required = true, paramLabel = "v2", description = "Target format (only v2).")
    Target to;

    @Option(names = "--layer", paramLabel = "libxc|libxl", defaultValue = "libxl",
            description = "v2 layer to write (default: ${DEFAULT-VALUE}).")
    Layer layer;

    @Option(names = "--force", description = "Replace OUT if it exists.")
    boolean force;

    @Mixin
    StreamOptions options;

    @Override
    public Integer call() throws Exception {
        AtomicOutput.checkTarget(out, force);
        StreamConversion.convert(in, out, force, layer == Layer.libxl, options.verifierOptions());
        return ExitCode.OK;
    }
}
