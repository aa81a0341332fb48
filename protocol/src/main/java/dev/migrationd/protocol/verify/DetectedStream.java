package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.XlSaveHeader;

/**
 * What a stream file is, told from its first octets by {@link StreamVerifier#detect}.
 *
 * @param kind           the format and layer of the stream proper
 * @param streamStart    octets of toolstack header before the stream proper (0 without one)
 * @param wrapper        the toolstack header before the stream, or null without one
 * @param toolstackWidth the legacy stream's toolstack width; null for v2
 * @param widthSource    where {@code toolstackWidth} came from; null for v2
 * @param guestType      the legacy stream's guest type; null for v2 (its domain header says)
 * @param guestSource    where {@code guestType} came from; null for v2
 * @param xlHeader       xl's header when {@code wrapper} is {@link Wrapper#XL} (flags and configuration), else null
 */
public record DetectedStream(Kind kind, long streamStart, Wrapper wrapper, Width toolstackWidth,
        Report.Source widthSource, GuestType guestType, Report.Source guestSource, XlSaveHeader xlHeader) {

    public DetectedStream(Kind kind, long streamStart, Wrapper wrapper, Width toolstackWidth, Report.Source widthSource,
                          GuestType guestType, Report.Source guestSource) {
        this(kind, streamStart, wrapper, toolstackWidth, widthSource, guestType, guestSource, null);
    }

    /** This detection with xl's header. */
    DetectedStream withXlHeader(XlSaveHeader h) {
        return new DetectedStream(kind, streamStart, wrapper, toolstackWidth, widthSource, guestType, guestSource, h);
    }

    /** The format and layer of a stream. */
    public enum Kind {
        /** The legacy libxc stream (Xen 4.0–4.5). */
        LEGACY("legacy", "libxc"),
        /** A bare v2 libxc stream (image header first). */
        V2_LIBXC("v2", "libxc"),
        /** A v2 libxl stream ("LibxlFmt" header) carrying a libxc stream. */
        V2_LIBXL("v2", "libxl");

        private final String format;
        private final String layer;

        Kind(String format, String layer) {
            this.format = format;
            this.layer = layer;
        }

        /** {@code "legacy"} or {@code "v2"}. */
        public String format() {
            return format;
        }

        /** {@code "libxc"} or {@code "libxl"}; a legacy stream is a bare libxc stream. */
        public String layer() {
            return layer;
        }
    }

    /** A toolstack's save-file header before the stream proper. */
    public enum Wrapper {
        /** xl's header (Xen 4.1+), docs/wire-format-legacy.md §12.1. */
        XL,
        /** xend's {@code "LinuxGuestRecord"} header (Xen ≤ 4.4), docs/wire-format-legacy.md §12.4. */
        XEND
    }

    /**
     * The protocol readers count offsets from the start of the stream proper; this re-bases an error of theirs so
     * that its offset is a file offset, saying so in the message when a toolstack header came first.
     */
    public StreamException toFileOffset(StreamException e) {
        if (streamStart == 0) {
            return e;
        }
        String marker = " at offset " + e.offset() + ": ";
        String msg = e.getMessage();
        int i = msg.indexOf(marker);
        String problem = i < 0 ? msg : msg.substring(i + marker.length());
        problem += " (file offset; the stream starts after a " + streamStart + "-byte toolstack header)";
        return switch (e) {
            case RecordException r -> new RecordException(r.item(), r.code(), r.offset() + streamStart, problem);
            case StreamFatalException f -> new StreamFatalException(f.item(), f.code(), f.offset() + streamStart,
                    problem, f);
        };
    }
}
