package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.ToolstackWrappers;
import dev.migrationd.protocol.legacy.XlSaveHeader;
import dev.migrationd.protocol.verify.DetectedStream.Kind;
import dev.migrationd.protocol.verify.DetectedStream.Wrapper;
import dev.migrationd.protocol.verify.Report.Source;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;

/**
 * Tells what a stream file is from its first octets: an optional toolstack header (xl,
 * docs/wire-format-legacy.md §12.1, or xend's "LinuxGuestRecord", §12.4; parsed with protocol.legacy's
 * {@link ToolstackWrappers}), then a v2 libxc image header (8 × 0xFF, docs/wire-format-v2.md §2.1), a v2 libxl
 * header ("LibxlFmt", §3.1), or a legacy stream whose toolstack width comes from octets 4–7 and whose guest type
 * from the extended-info signature (docs/wire-format-legacy.md §2).
 */
final class FormatDetector {
    static final long LIBXL_IDENT = 0x4C6962786C466D74L;
    /** Octets of the stream proper needed to decide. */
    static final int PROBE = 16;
    private static final int XEND_FIXED = 20;

    private FormatDetector() {
    }

    /**
     * Reads the toolstack header, if any, and looks at the first octets of the stream proper without consuming
     * them: {@code in} is left at the start of the stream proper.
     */
    static DetectedStream detect(StreamInput in, StreamVerifier.Options options) throws IOException, StreamException {
        ByteBuffer fixed = in.peek(ToolstackWrappers.XL_FIXED_SIZE);
        long start = 0;
        Wrapper wrapper = null;
        XlSaveHeader xl = null;
        if (startsWith(fixed, ToolstackWrappers.XL_MAGIC)) {
            XlSaveHeader.XlFixed f = XlSaveHeader.fixed(fixed);
            ByteBuffer whole = in.peek(ToolstackWrappers.XL_FIXED_SIZE + f.optionalDataBytes());
            if (whole.remaining() < ToolstackWrappers.XL_FIXED_SIZE + f.optionalDataBytes()) {
                throw new StreamFatalException(XlSaveHeader.ITEM, 0, whole.remaining(), "the file ends inside the "
                        + f.optionalDataBytes() + " bytes of optional data (optional_data_len)");
            }
            byte[] optional = new byte[f.optionalDataBytes()];
            whole.get(ToolstackWrappers.XL_FIXED_SIZE, optional);
            xl = XlSaveHeader.of(f, optional);
            start = xl.length();
            wrapper = Wrapper.XL;
        } else if (startsWith(fixed, ToolstackWrappers.XEND_MAGIC) && fixed.remaining() >= XEND_FIXED) {
            long len = Integer.toUnsignedLong(fixed.duplicate().order(ByteOrder.BIG_ENDIAN).getInt(16));
            if (len > ToolstackWrappers.XEND_MAX_CONFIG) {
                throw new StreamFatalException("XEND_HEADER", 0, 16, "config length " + len + " exceeds "
                        + ToolstackWrappers.XEND_MAX_CONFIG);
            }
            start = XEND_FIXED + len;
            wrapper = Wrapper.XEND;
        }
        int xlMandatory = wrapper == Wrapper.XL ? fixed.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(36) : 0;
        long skipped = in.skip(start);
        if (skipped < start) {
            String name = wrapper.name().toLowerCase(Locale.ROOT);
            throw new StreamFatalException(wrapper.name() + "_HEADER", 0, 0, "the " + start + "-byte " + name
                    + " header reaches beyond the end of the file (" + skipped + " bytes)");
        }
        DetectedStream d = detect(in.peek(PROBE), start, wrapper, options);
        if (wrapper == Wrapper.XL) {
            checkXlFlags(xlMandatory, d.kind());
            d = d.withXlHeader(xl);
        } else if (wrapper == Wrapper.XEND && d.kind() != Kind.LEGACY) {
            throw new RecordException("XEND_HEADER", 0, start, "a xend header (Xen <= 4.4) before a v2 stream");
        }
        return d;
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

    /** No unknown mandatory flag; STREAMv2 set exactly when a v2 stream follows (docs/wire-format-legacy.md §12.1). */
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

    /**
     * Decides from the first octets of the stream proper (after any toolstack header).
     *
     * @param probe at least {@link #PROBE} octets, or fewer if the stream is that short
     */
    static DetectedStream detect(ByteBuffer probe, long streamStart, Wrapper wrapper, StreamVerifier.Options options) {
        ByteBuffer b = probe.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining();
        if (n >= 8) {
            long first = b.getLong(b.position());
            if (first == -1L) {
                return new DetectedStream(Kind.V2_LIBXC, streamStart, wrapper, null, null, null, null);
            }
            if (Long.reverseBytes(first) == LIBXL_IDENT) {
                return new DetectedStream(Kind.V2_LIBXL, streamStart, wrapper, null, null, null, null);
            }
        }
        Width w = options.toolstackWidth();
        Source wSource = Source.GIVEN;
        if (w == null) {
            if (n < 8) {
                w = Width.W64; // too short to tell; the reader reports the truncation
                wSource = Source.DEFAULT;
            } else {
                w = b.getInt(b.position() + 4) == 0 ? Width.W64 : Width.W32;
                wSource = Source.DETECTED;
            }
        }
        GuestType g = options.guestType();
        Source gSource = Source.GIVEN;
        if (g == null) {
            gSource = Source.DETECTED;
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
        return new DetectedStream(Kind.LEGACY, streamStart, wrapper, w, wSource, g, gSource);
    }
}
