package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Path;

/** {@code stream synth}: runs protocol.synth's StreamSynth into an atomic output file. */
final class Synthesis {
    private Synthesis() {
    }

    static void synth(Path out, boolean force, GuestType guest, Width width, Width guestWidth, long pages, long seed,
            int checkpoints, boolean compress, boolean v2, boolean libxl) throws Exception {
        throw CliException.notImplemented("stream synth (waiting for protocol.legacy's LegacyStreamWriter)");
    }
}
