package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.ToolstackWrappers;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Tells what a stream file is from its first octets: an optional toolstack header (xl, legacy-stream.md §12.1,
 * or xend's "LinuxGuestRecord", §12.4; parsed with protocol.legacy's {@link ToolstackWrappers}), then a v2
 * libxc image header (8 × 0xFF, stream-v2.md §2.1), a v2 libxl header ("LibxlFmt", §3.1), or a legacy stream
 * whose toolstack width comes from octets 4–7 and whose guest type from the extended-info signature (§2).
 */
final class StreamFormatDetector {
    static final long LIBXL_IDENT = 0x4C6962786C466D74L;
    /** Octets of the stream proper needed to decide. */
    static final int PROBE = 16;
    private static final int XEND_FIXED = 20;

    enum Kind { LEGACY, V2_LIBXC, V2_LIBXL }

    /**
     * @param kind           what follows the toolstack header
     * @param streamStart    octets of toolstack header before the stream (0 without one)
     * @param wrapper        "xl", "xend" or null
     * @param toolstackWidth legacy only
     * @param guestType      legacy only
     */
    record Detected(Kind kind, long streamStart, String wrapper, Width toolstackWidth, String widthSource,
            GuestType guestType, String guestSource) {
    }

    private StreamFormatDetector() {
    }

    /** Detects the format of a file, checking a toolstack header if there is one. */
    static Detected detect(Path file, Width widthOverride, GuestType guestOverride) throws IOException,
            StreamException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer fixed = ByteBuffer.allocate(ToolstackWrappers.XL_FIXED_SIZE);
            readFully(ch, fixed, 0);
            long start = 0;
            String wrapper = null;
            if (startsWith(fixed, ToolstackWrappers.XL_MAGIC)) {
                start = ToolstackWrappers.xlHeaderLength(fixed);
                wrapper = "xl";
            } else if (startsWith(fixed, ToolstackWrappers.XEND_MAGIC) && fixed.remaining() >= XEND_FIXED) {
                long len = Integer.toUnsignedLong(fixed.order(ByteOrder.BIG_ENDIAN).getInt(16));
                if (len > ToolstackWrappers.XEND_MAX_CONFIG) {
                    throw new StreamFatalException("XEND_HEADER", 0, 16, "config length " + len + " exceeds "
                            + ToolstackWrappers.XEND_MAX_CONFIG);
                }
                start = XEND_FIXED + len;
                wrapper = "xend";
            }
            if (start > ch.size()) {
                throw new StreamFatalException(wrapper.toUpperCase(java.util.Locale.ROOT) + "_HEADER", 0, 0,
                        "the " + start + "-byte " + wrapper + " header reaches beyond the end of the file ("
                                + ch.size() + " bytes)");
            }
            ByteBuffer probe = ByteBuffer.allocate(PROBE);
            readFully(ch, probe, start);
            Detected d = detect(probe, start, wrapper, widthOverride, guestOverride);
            if ("xl".equals(wrapper)) {
                checkXlFlags(fixed.order(ByteOrder.LITTLE_ENDIAN).getInt(36), d.kind());
            } else if ("xend".equals(wrapper) && d.kind() != Kind.LEGACY) {
                throw new RecordException("XEND_HEADER", 0, start, "a xend header (Xen <= 4.4) before a v2 stream");
            }
            return d;
        }
    }

    private static boolean startsWith(ByteBuffer b, byte[] magic) {
        if (b.remaining() < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if (b.get(b.position() + i) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    /** No unknown mandatory flag; STREAMv2 set exactly when a v2 stream follows (legacy-stream.md §12.1). */
    static void checkXlFlags(int mandatory, Kind kind) throws RecordException {
        int known = ToolstackWrappers.XL_MANDATORY_FLAG_JSON | ToolstackWrappers.XL_MANDATORY_FLAG_STREAMV2;
        if ((mandatory & ~known) != 0) {
            throw new RecordException("XL_HEADER", 0, 36, "unknown mandatory flags 0x" + Integer.toHexString(mandatory));
        }
        boolean v2 = (mandatory & ToolstackWrappers.XL_MANDATORY_FLAG_STREAMV2) != 0;
        if (v2 != (kind != Kind.LEGACY)) {
            throw new RecordException("XL_HEADER", 0, 36, "STREAMv2 flag is " + (v2 ? "set" : "clear") + " but a "
                    + (kind == Kind.LEGACY ? "legacy" : "v2") + " stream follows");
        }
    }

    /** Reads up to {@code b.remaining()} octets at {@code pos} (fewer at end of file); flips {@code b}. */
    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                break;
            }
            pos += n;
        }
        b.flip();
    }

    /**
     * Decides from the first octets of the stream proper (after any toolstack header).
     *
     * @param probe at least {@link #PROBE} octets, or fewer if the stream is that short
     */
    static Detected detect(ByteBuffer probe, long streamStart, String wrapper, Width widthOverride,
            GuestType guestOverride) {
        ByteBuffer b = probe.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining();
        if (n >= 8) {
            long first = b.getLong(b.position());
            if (first == -1L) {
                return new Detected(Kind.V2_LIBXC, streamStart, wrapper, null, null, null, null);
            }
            if (Long.reverseBytes(first) == LIBXL_IDENT) {
                return new Detected(Kind.V2_LIBXL, streamStart, wrapper, null, null, null, null);
            }
        }
        Width w = widthOverride;
        String wSource = "--width";
        if (w == null) {
            if (n < 8) {
                w = Width.W64; // too short to tell; the reader reports the truncation
                wSource = "default";
            } else {
                w = b.getInt(b.position() + 4) == 0 ? Width.W64 : Width.W32;
                wSource = "detected";
            }
        }
        GuestType g = guestOverride;
        String gSource = "--guest";
        if (g == null) {
            gSource = "detected";
            int wb = w.bytes();
            g = GuestType.HVM;
            if (n >= 2 * wb) {
                boolean allFf = true;
                for (int i = 0; i < wb; i++) {
                    allFf &= b.get(b.position() + wb + i) == (byte) 0xFF;
                }
                g = allFf ? GuestType.PV : GuestType.HVM;
            }
        }
        return new Detected(Kind.LEGACY, streamStart, wrapper, w, wSource, g, gSource);
    }
}
