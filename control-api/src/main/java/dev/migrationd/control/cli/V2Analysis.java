package dev.migrationd.control.cli;

import dev.migrationd.protocol.StreamException;
import java.io.IOException;
import java.nio.file.Path;

/** Reads a v2 stream with the v2 readers into a summary. */
final class V2Analysis {
    private V2Analysis() {
    }

    static void read(Path file, StreamFormatDetector.Detected d, StreamSummary s) throws IOException, StreamException {
        throw CliException.notImplemented("reading v2 streams (waiting for protocol.v2's readers)");
    }
}
