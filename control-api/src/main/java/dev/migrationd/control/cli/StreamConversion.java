package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Path;

/** {@code stream convert}: legacy → v2 through the in-process converter. */
final class StreamConversion {
    private StreamConversion() {
    }

    static void convert(Path in, Path out, boolean force, boolean libxl, Width width, GuestType guest) throws Exception {
        throw CliException.notImplemented("stream convert (waiting for protocol.convert's legacy-to-v2 converter)");
    }
}
