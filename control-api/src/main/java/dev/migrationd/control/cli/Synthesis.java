package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.synth.StreamSynth;
import dev.migrationd.protocol.synth.SynthOptions;
import java.nio.file.Path;

/** {@code stream synth}: runs protocol.synth's StreamSynth into an atomic output file. */
final class Synthesis {
    private Synthesis() {
    }

    static void synth(Path out, boolean force, GuestType guest, Width width, Width guestWidth, long pages, long seed,
            int checkpoints, boolean compress, boolean v2, boolean libxl, int vcpus) throws Exception {
        SynthOptions o;
        try {
            o = new SynthOptions(guest, width, guestWidth, pages, seed, checkpoints, compress,
                    !v2 ? SynthOptions.Format.LEGACY : libxl ? SynthOptions.Format.V2_LIBXL : SynthOptions.Format.V2_LIBXC,
                    vcpus);
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCode.USAGE, e.getMessage());
        }
        AtomicOutput.write(out, force, os -> StreamSynth.write(o, os));
    }
}
