package dev.migrationd.control.cli.daemon;

import dev.migrationd.control.cli.text.Converters;
import dev.migrationd.control.v1.StreamFormat;
import picocli.CommandLine.Option;

/** {@code --stream-format legacy|v2} of the commands that make the daemon write a save stream; a picocli mixin. */
public final class StreamFormatOption {

    @Option(names = "--stream-format", paramLabel = "legacy|v2", converter = Converters.StreamFormatWords.class,
            completionCandidates = Converters.StreamFormatWords.class,
            description = "Save-stream format: legacy (default) or v2. (--format is the output format, as everywhere.)")
    StreamFormat streamFormat;

    /** The format asked for, or null for the daemon's default. */
    public StreamFormat get() {
        return streamFormat;
    }
}
