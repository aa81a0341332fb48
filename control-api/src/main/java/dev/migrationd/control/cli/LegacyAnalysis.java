package dev.migrationd.control.cli;

import dev.migrationd.protocol.StreamException;
import java.io.IOException;
import java.nio.file.Path;

/** Reads a legacy stream with the legacy reader into a summary. */
final class LegacyAnalysis {
    private LegacyAnalysis() {
    }

    static void read(Path file, StreamFormatDetector.Detected d, StreamSummary s) throws IOException, StreamException {
        throw CliException.notImplemented("reading legacy streams (waiting for protocol.legacy's LegacyStreamReader)");
    }
}
