package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.file.Path;

/** Reads a whole stream file with migrationd's readers and summarises it; any invalidity is a StreamException. */
final class StreamAnalyzer {
    private StreamAnalyzer() {
    }

    static StreamSummary analyze(Path file, Width width, GuestType guest) throws IOException, StreamException {
        StreamFormatDetector.Detected d = StreamFormatDetector.detect(file, width, guest);
        long xl = d.streamStart();
        StreamSummary s = new StreamSummary();
        s.toolstackHeader = d.wrapper();
        if (xl > 0) {
            s.tail.put("toolstack_header_bytes", xl);
        }
        if (d.kind() == StreamFormatDetector.Kind.LEGACY) {
            s.format = "legacy";
            s.layer = "libxc";
            s.toolstackWidth = d.toolstackWidth();
            s.toolstackWidthSource = d.widthSource();
            s.guestType = d.guestType();
            s.guestTypeSource = d.guestSource();
            try {
                LegacyAnalysis.read(file, d, s);
            } catch (StreamException e) {
                throw Offsets.toFileOffset(e, xl);
            }
        } else {
            s.format = "v2";
            s.layer = d.kind() == StreamFormatDetector.Kind.V2_LIBXL ? "libxl" : "libxc";
            try {
                V2Analysis.read(file, d, s);
            } catch (StreamException e) {
                throw Offsets.toFileOffset(e, xl);
            }
        }
        return s;
    }
}
