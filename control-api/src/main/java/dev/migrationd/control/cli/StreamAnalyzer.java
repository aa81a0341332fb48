package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a whole stream file with migrationd's readers and summarises it; any invalidity is a StreamException. */
final class StreamAnalyzer {
    private StreamAnalyzer() {
    }

    static StreamSummary analyze(Path file, Width width, GuestType guest) throws IOException, StreamException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(64 * 1024);
        }
        ByteBuffer hb = ByteBuffer.wrap(head);
        long xl = StreamFormatDetector.xlHeaderLength(hb);
        if (xl > head.length) {
            throw new CliException(ExitCodes.INTERNAL, "not implemented yet: xl headers with more than 64 KiB of config");
        }
        StreamFormatDetector.Detected d = StreamFormatDetector.detect(hb.position((int) xl).slice(), xl, xl > 0, width,
                guest);
        StreamSummary s = new StreamSummary();
        s.xlHeader = xl > 0;
        if (d.kind() == StreamFormatDetector.Kind.LEGACY) {
            s.format = "legacy";
            s.layer = "libxc";
            s.toolstackWidth = d.toolstackWidth();
            s.toolstackWidthSource = d.widthSource();
            s.guestType = d.guestType();
            s.guestTypeSource = d.guestSource();
            LegacyAnalysis.read(file, d, s);
        } else {
            s.format = "v2";
            s.layer = d.kind() == StreamFormatDetector.Kind.V2_LIBXL ? "libxl" : "libxc";
            V2Analysis.read(file, d, s);
        }
        return s;
    }
}
