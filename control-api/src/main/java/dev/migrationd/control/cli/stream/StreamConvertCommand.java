package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.convert.LegacyToV2Converter;
import dev.migrationd.protocol.convert.LegacyToV2Pipeline;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.ToolstackWrappers;
import dev.migrationd.protocol.verify.DetectedStream;
import dev.migrationd.protocol.verify.StreamVerifier;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code migrationctl stream convert IN OUT --to v2}: legacy → v2 through protocol.convert's in-process pipeline
 * (reader → converter → writer), streaming: one read buffer at a time, pages written synchronously as views. Every
 * checkpoint is kept. An xl header is copied with its STREAMv2 flag set (as {@code convert-legacy-stream -x -f
 * libxl}).
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Converts a legacy stream to v2 in-process, as Xen's convert-legacy-stream does, but keeping "
                + "every Remus checkpoint and the PV unmapped PFNs (as XTAB entries). Width and guest type are "
                + "detected unless given. An xl header is kept, with its STREAMv2 flag set (libxl layer only).",
            "TMEM and compressed Remus checkpoints have no v2 equivalent: such input is refused (exit 1).",
            "OUT is written to a temporary file next to it and moved into place only when complete."}
        )
public final class StreamConvertCommand implements Callable<Integer> {
    private static final int READ_CHUNK = 1 << 16;

    enum Target { v2 }

    @Parameters(index = "0", paramLabel = "IN", description = "The legacy stream.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "The v2 stream to write.")
    Path out;

    @Option(names = "--to", required = true, paramLabel = "v2", description = "Target format (only v2).")
    Target to;

    @Mixin
    OutputOptions output;

    @Mixin
    StreamOptions options;

    @Override
    public Integer call() throws Exception {
        AtomicOutput.checkTarget(out, output.force);
        boolean libxl = output.libxl();
        DetectedStream d = StreamVerifier.detect(in, options.verifierOptions());
        if (d.kind() != DetectedStream.Kind.LEGACY) {
            throw new CliException(ExitCode.USAGE, in + " is already a v2 stream");
        }
        byte[] xlHeader = null;
        if (d.wrapper() == DetectedStream.Wrapper.XEND) {
            throw CliException.notImplemented("converting a stream with a xend header (strip the "
                    + d.streamStart() + "-byte header first)");
        }
        if (d.wrapper() == DetectedStream.Wrapper.XL) {
            if (!libxl) {
                throw new CliException(ExitCode.USAGE, "an xl header can only introduce a libxl v2 stream; "
                        + "use --layer libxl");
            }
            xlHeader = xlHeaderForV2(in, (int) d.streamStart());
        }
        LegacyStreamReader.Options ro = new LegacyStreamReader.Options(d.toolstackWidth(), d.guestType(), true,
                StreamLimits.DEFAULT);
        byte[] header = xlHeader;
        long base = d.streamStart();
        try {
            AtomicOutput.write(out, output.force, os -> copy(in, os, header, base, ro, libxl));
        } catch (StreamException e) {
            throw d.toFileOffset(e);
        }
        return ExitCode.OK;
    }

    /** The input's xl header with the STREAMv2 mandatory flag set (xl reads a v2 libxl stream after it). */
    private static byte[] xlHeaderForV2(Path in, int length) throws IOException {
        byte[] h = new byte[length];
        try (FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(h);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // fill
            }
        }
        ByteBuffer le = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        le.putInt(36, le.getInt(36) | ToolstackWrappers.XL_MANDATORY_FLAG_STREAMV2);
        return h;
    }

    private static void copy(Path in, OutputStream os, byte[] xlHeader, long base, LegacyStreamReader.Options ro,
            boolean libxl) throws IOException, StreamException {
        WritableByteChannel wch = Channels.newChannel(os);
        if (xlHeader != null) {
            os.write(xlHeader);
        }
        LegacyToV2Pipeline p = new LegacyToV2Pipeline(ro,
                libxl ? LegacyToV2Converter.Format.LIBXL : LegacyToV2Converter.Format.LIBXC, false, false, b -> {
                    while (b.hasRemaining()) {
                        wch.write(b);
                    }
                });
        try (FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
            ch.position(base);
            ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
            long consumed = 0;
            while (true) {
                buf.clear();
                if (ch.read(buf) < 0) {
                    break;
                }
                buf.flip();
                int n = buf.remaining();
                p.feed(buf);
                consumed += n - buf.remaining();
                if (buf.hasRemaining()) {
                    throw new RecordException("TRAILING_DATA", 0, consumed, (buf.remaining() + ch.size()
                            - ch.position()) + " bytes after the last checkpoint");
                }
            }
            p.finish();
        }
    }
}
