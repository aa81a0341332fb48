package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.convert.LegacyToV2Converter;
import dev.migrationd.protocol.convert.LegacyToV2Pipeline;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code stream convert}: legacy → v2 through protocol.convert's in-process pipeline (reader → converter →
 * writer), streaming: one read buffer at a time, pages written synchronously as views. Every checkpoint is kept.
 */
final class StreamConversion {
    private static final int READ_CHUNK = 1 << 16;

    private StreamConversion() {
    }

    static void convert(Path in, Path out, boolean force, boolean libxl, Width width, GuestType guest) throws Exception {
        StreamFormatDetector.Detected d = StreamFormatDetector.detect(in, width, guest);
        if (d.wrapper() != null) {
            throw CliException.notImplemented("converting a stream with an " + d.wrapper() + " header (strip the "
                    + d.streamStart() + "-byte header first)");
        }
        if (d.kind() != StreamFormatDetector.Kind.LEGACY) {
            throw new CliException(ExitCodes.USAGE, in + " is already a v2 stream");
        }
        LegacyStreamReader.Options ro = new LegacyStreamReader.Options(d.toolstackWidth(), d.guestType(), true,
                StreamLimits.DEFAULT);
        AtomicOutput.write(out, force, os -> {
            WritableByteChannel wch = Channels.newChannel(os);
            LegacyToV2Pipeline p = new LegacyToV2Pipeline(ro,
                    libxl ? LegacyToV2Converter.Format.LIBXL : LegacyToV2Converter.Format.LIBXC, false, false, b -> {
                        while (b.hasRemaining()) {
                            wch.write(b);
                        }
                    });
            try (FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
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
        });
    }
}
