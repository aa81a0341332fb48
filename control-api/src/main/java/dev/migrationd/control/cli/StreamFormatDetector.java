package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
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
