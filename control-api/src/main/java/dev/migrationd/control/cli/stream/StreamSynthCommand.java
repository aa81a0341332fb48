package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.synth.StreamSynth;
import dev.migrationd.protocol.synth.SynthOptions;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl stream synth OUT ...}: runs protocol.synth's StreamSynth into an atomic output file. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {"Writes a complete, plausible save stream of a synthetic guest: random page contents "
            + "from the seed, page tables and p2m (PV), HVM params, context and QEMU record (HVM), vCPUs in "
            + "reset state. The same seed and options always give the same bytes.",
            "OUT is written to a temporary file next to it and moved into place only when complete."},
        footer = {"", "Example:", "  migrationctl stream synth /tmp/hvm.img --guest hvm --width 64 --pages 4096"})
public final class StreamSynthCommand implements Callable<Integer> {

    enum Format { legacy, v2 }

    /** Largest --pages accepted (4 GiB of guest memory). */
    static final long MAX_PAGES = 1L << 20;

    @Parameters(index = "0", paramLabel = "OUT", description = "The stream file to write.")
    Path out;

    @Option(names = "--guest", required = true, paramLabel = "pv|hvm", description = "Guest type.")
    GuestType guest;

    @Option(names = "--width", required = true, paramLabel = "64|32", converter = StreamOptions.WidthConverter.class,
            description = "Toolstack width (legacy 'unsigned long').")
    Width width;

    @Option(names = "--guest-width", paramLabel = "64|32", converter = StreamOptions.WidthConverter.class,
            description = "PV guest width (default: 64).")
    Width guestWidth;

    @Option(names = "--pages", required = true, paramLabel = "N", description = "Guest pages (p2m size; PV >= 16, HVM >= 8, at most 1048576).")
    long pages;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--checkpoints", paramLabel = "K", defaultValue = "1",
            description = "Checkpoints (Remus) to write, 1..64 (default: ${DEFAULT-VALUE}).")
    int checkpoints;

    @Option(names = "--compress", description = "Remus checkpoint compression (legacy only, needs --checkpoints >= 2).")
    boolean compress;

    @Option(names = "--stream-format", paramLabel = "legacy|v2", defaultValue = "legacy",
            description = "Stream format (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--vcpus", paramLabel = "N", defaultValue = "2",
            description = "vCPUs, all online (default: ${DEFAULT-VALUE}).")
    int vcpus;

    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws Exception {
        if (pages < 1 || pages > MAX_PAGES) {
            throw usage("--pages must be in 1.." + MAX_PAGES + ", not " + pages);
        }
        if (checkpoints < 1 || checkpoints > 64) {
            throw usage("--checkpoints must be in 1..64, not " + checkpoints);
        }
        if (guestWidth != null && guest != GuestType.PV) {
            throw usage("--guest-width applies to PV guests only");
        }
        if (compress && checkpoints < 2) {
            throw usage("--compress needs --checkpoints 2 or more (only later checkpoints are compressed)");
        }
        if (compress && format == Format.v2) {
            throw usage("--compress is a legacy Remus feature; v2 has no compression");
        }
        AtomicOutput.checkTarget(out, output.force);
        SynthOptions o;
        try {
            o = new SynthOptions(guest, width, guestWidth == null ? Width.W64 : guestWidth, pages, seed, checkpoints,
                    compress, format == Format.legacy ? SynthOptions.Format.LEGACY
                            : output.libxl() ? SynthOptions.Format.V2_LIBXL : SynthOptions.Format.V2_LIBXC,
                    vcpus);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        AtomicOutput.write(out, output.force, os -> StreamSynth.write(o, os));
        return ExitCode.OK;
    }

    private CliException usage(String message) {
        return new CliException(ExitCode.USAGE, message);
    }
}
