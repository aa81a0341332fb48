package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Tells what a stream is from its first octets (legacy-stream.md §2, stream-v2.md §2.1, §3.1, §12.1):
 * an optional xl header, then a v2 libxc image header (8 × 0xFF), a v2 libxl header ("LibxlFmt"), or a
 * legacy stream whose toolstack width comes from octets 4–7 and whose guest type from the extended-info
 * signature.
 */
final class StreamFormatDetector {
    /** {@code "Xen saved domain, xl format\n \0 \r"}. */
    static final byte[] XL_MAGIC = "Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1);
    /** xl header: magic, byteorder, mandatory, optional flags, optional_data_len. */
    static final int XL_HEADER_FIXED = 32 + 16;
    static final int XL_MANDATORY_FLAG_JSON = 1;
    static final int XL_MANDATORY_FLAG_STREAMV2 = 1 << 1;
    static final long LIBXL_IDENT = 0x4C6962786C466D74L;
    /** Octets needed to decide. */
    static final int PROBE = 16;

    enum Kind { LEGACY, V2_LIBXC, V2_LIBXL }

    /**
     * @param kind          what follows the optional xl header
     * @param streamStart   bytes of xl header to skip (0 without one)
     * @param toolstackWidth legacy only
     * @param guestType     legacy only
     */
    record Detected(Kind kind, long streamStart, boolean xlHeader, Width toolstackWidth, String widthSource,
            GuestType guestType, String guestSource) {
    }

    private StreamFormatDetector() {
    }

    /** Length of the xl header at the start of {@code head}, or 0 when there is none. */
    static long xlHeaderLength(ByteBuffer head) {
        if (head.remaining() < XL_HEADER_FIXED) {
            return 0;
        }
        byte[] magic = new byte[XL_MAGIC.length];
        head.duplicate().get(magic);
        if (!Arrays.equals(magic, XL_MAGIC)) {
            return 0;
        }
        ByteBuffer le = head.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long optLen = Integer.toUnsignedLong(le.getInt(head.position() + 44));
        return XL_HEADER_FIXED + optLen;
    }

    /**
     * Checks the fixed part of an xl header (legacy-stream.md §12.1) against what follows it: byte-order
     * marker 0x01020304 (little-endian), no unknown mandatory flag, STREAMv2 set exactly when a v2 stream
     * follows.
     */
    static void checkXlHeader(ByteBuffer head, Kind kind) throws RecordException {
        ByteBuffer le = head.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int p = head.position();
        int byteorder = le.getInt(p + 32);
        if (byteorder != 0x01020304) {
            throw new RecordException("XL_HEADER", 0, 32, "byte-order marker 0x" + Integer.toHexString(byteorder)
                    + ", expected 0x01020304 little-endian");
        }
        int mandatory = le.getInt(p + 36);
        if ((mandatory & ~(XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2)) != 0) {
            throw new RecordException("XL_HEADER", 0, 36, "unknown mandatory flags 0x" + Integer.toHexString(mandatory));
        }
        boolean v2 = (mandatory & XL_MANDATORY_FLAG_STREAMV2) != 0;
        if (v2 != (kind != Kind.LEGACY)) {
            throw new RecordException("XL_HEADER", 0, 36, "STREAMv2 flag is " + (v2 ? "set" : "clear") + " but a "
                    + (kind == Kind.LEGACY ? "legacy" : "v2") + " stream follows");
        }
    }

    /**
     * Detects the format of a file: an optional xl header (checked), then the stream proper.
     */
    static Detected detect(Path file, Width widthOverride, GuestType guestOverride) throws IOException,
            RecordException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer fixed = ByteBuffer.allocate(XL_HEADER_FIXED);
            readFully(ch, fixed, 0);
            long xl = xlHeaderLength(fixed);
            if (xl > ch.size()) {
                throw new RecordException("XL_HEADER", 0, 44, "optional_data_len reaches beyond the end of the file ("
                        + ch.size() + " bytes)");
            }
            ByteBuffer probe = ByteBuffer.allocate(PROBE);
            readFully(ch, probe, xl);
            Detected d = detect(probe, xl, xl > 0, widthOverride, guestOverride);
            if (xl > 0) {
                checkXlHeader(fixed, d.kind());
            }
            return d;
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
     * Decides from the first octets of the stream proper (after any xl header).
     *
     * @param probe at least {@link #PROBE} octets, or fewer if the stream is that short
     */
    static Detected detect(ByteBuffer probe, long streamStart, boolean xl, Width widthOverride,
            GuestType guestOverride) {
        ByteBuffer b = probe.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining();
        if (n >= 8) {
            long first = b.getLong(b.position());
            if (first == -1L) {
                return new Detected(Kind.V2_LIBXC, streamStart, xl, null, null, null, null);
            }
            if (Long.reverseBytes(first) == LIBXL_IDENT) {
                return new Detected(Kind.V2_LIBXL, streamStart, xl, null, null, null, null);
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
        return new Detected(Kind.LEGACY, streamStart, xl, w, wSource, g, gSource);
    }
}
