package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Checks that a whole save stream is valid, as Xen's receiver would read it, and reports what it holds. The
 * stream may be legacy or v2 (libxc or libxl layer), after an optional xl or xend header; see the package
 * documentation for what is checked.
 *
 * <pre>{@code
 * Report r = StreamVerifier.verify(Path.of("dom7.save"), StreamVerifier.Options.DETECT);
 * r.kind();        // V2_LIBXL
 * r.pageCount();   // 262144
 * }</pre>
 *
 * An invalid stream is a {@link StreamException} whose message names the item, its type code, the file offset
 * and the problem, in one line. Each call reads on the calling thread and shares nothing.
 */
public final class StreamVerifier {

    /**
     * What the caller knows of a legacy stream; a null field is detected from the stream's first octets. v2
     * streams say both themselves, and both fields are then ignored.
     *
     * @param toolstackWidth the legacy toolstack width ({@code unsigned long} of the saving toolstack)
     * @param guestType      the legacy stream's guest type
     */
    public record Options(Width toolstackWidth, GuestType guestType) {
        /** Detect everything. */
        public static final Options DETECT = new Options(null, null);
    }

    private StreamVerifier() {
    }

    /** Verifies the stream in {@code file}: see {@link #verify(ReadableByteChannel, Options)}. */
    public static Report verify(Path file, Options options) throws IOException, StreamException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return verify(ch, options);
        }
    }

    /**
     * Reads the stream from the current position of a blocking {@code channel} to its end, checks it and
     * returns what it holds. Offsets in errors count from where reading started. The channel is not closed.
     *
     * @throws StreamException the stream is invalid (the first problem found)
     * @throws IOException     reading failed
     */
    public static Report verify(ReadableByteChannel channel, Options options) throws IOException, StreamException {
        StreamInput in = new StreamInput(channel);
        DetectedStream d = FormatDetector.detect(in, options);
        Report report = new Report(d);
        try {
            if (d.kind() == DetectedStream.Kind.LEGACY) {
                LegacyAnalysis.read(in, d, report);
            } else {
                V2Analysis.read(in, d, report);
            }
        } catch (StreamException e) {
            throw d.toFileOffset(e);
        }
        report.totalBytes(in.position());
        return report;
    }

    /**
     * Tells what the stream in {@code file} is from its first octets (toolstack header, format and layer, and for
     * legacy streams the toolstack width and guest type), without reading the rest. A toolstack header is checked:
     * its length against the file, xl's mandatory flags against what follows.
     *
     * @throws StreamException the toolstack header is invalid
     */
    public static DetectedStream detect(Path file, Options options) throws IOException, StreamException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return FormatDetector.detect(new StreamInput(ch), options);
        }
    }
}
