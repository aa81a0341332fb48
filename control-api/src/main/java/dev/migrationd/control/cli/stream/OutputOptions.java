package dev.migrationd.control.cli.stream;

import picocli.CommandLine.Option;

/** Options of the stream commands that write a stream file (synth, convert); a picocli mixin. */
final class OutputOptions {

    /** The v2 layers. */
    enum Layer { libxc, libxl }

    @Option(names = "--layer", paramLabel = "libxc|libxl", defaultValue = "libxl",
            description = "v2 layer to write (default: ${DEFAULT-VALUE}).")
    Layer layer;

    @Option(names = "--force", description = "Replace OUT if it exists.")
    boolean force;

    boolean libxl() {
        return layer == Layer.libxl;
    }
}
