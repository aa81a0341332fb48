package dev.migrationd.hypervisor.xen;

import dev.migrationd.protocol.v2.LibxlRecordType;
import dev.migrationd.protocol.v2.V2Format;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The first bytes of every libxl v2 stream — the 16-byte header (ident, version 2, options) and the empty
 * LIBXC_CONTEXT record that hands the stream to libxc — written into libxl's pipe as soon as the restore starts,
 * before any byte of the real stream has arrived.
 *
 * <p>Why: libxl 4.17 crashes its process (a call through a null completion callback in the save helper's
 * teardown) when its stream fails before LIBXC_CONTEXT has started the save helper — an end of input where the
 * header should be is enough, and that is what an abort before the first byte produces (the source went silent,
 * the connection dropped). Once LIBXC_CONTEXT is read, a failure goes through the helper, which libxl survives
 * and cleans up after, as when an {@code xl migrate} sender dies mid-stream.
 *
 * <p>The stream's own first {@value #BYTES} bytes are then checked against this preamble and dropped: they must
 * be a little-endian libxl v2 header (the options may say the stream was converted from the legacy format) and
 * an empty LIBXC_CONTEXT record, which is how libxl begins every stream it writes.
 *
 * <p>Confined to the one thread that writes the stream.
 */
final class LibxlPreamble {

    /** Header and LIBXC_CONTEXT record header. */
    static final int BYTES = V2Format.LIBXL_HDR_SIZE + 8;

    /** Offset of the header's options field (big-endian, as the whole libxl header). */
    private static final int OPTIONS_AT = 12;

    private final byte[] seen = new byte[BYTES];
    private int seenBytes;

    /** What is written into the pipe before anything else. */
    static ByteBuffer bytes() {
        ByteBuffer b = ByteBuffer.allocate(BYTES);
        b.order(ByteOrder.BIG_ENDIAN).putLong(V2Format.LIBXL_IDENT).putInt(V2Format.LIBXL_VERSION).putInt(0);
        b.order(ByteOrder.LITTLE_ENDIAN).putInt(LibxlRecordType.LIBXC_CONTEXT.code()).putInt(0);
        return b.flip();
    }

    /** Whether the stream's own preamble has gone by. */
    boolean passed() {
        return seenBytes == BYTES;
    }

    /**
     * Consumes as much of the stream's own preamble from {@code data} as is still due and checks it once
     * whole; what is left in {@code data} goes to libxl.
     *
     * @return null when fine, else why the stream cannot be a libxl v2 stream
     */
    String consume(ByteBuffer data) {
        int n = Math.min(BYTES - seenBytes, data.remaining());
        data.get(seen, seenBytes, n);
        seenBytes += n;
        return passed() ? check() : null;
    }

    private String check() {
        ByteBuffer want = bytes();
        ByteBuffer got = ByteBuffer.wrap(seen);
        if (got.order(ByteOrder.BIG_ENDIAN).getLong(0) != V2Format.LIBXL_IDENT) {
            return "the stream does not begin with a libxl v2 header (ident 0x"
                    + Long.toHexString(got.getLong(0)) + ")";
        }
        int version = got.getInt(8);
        if (version != V2Format.LIBXL_VERSION) {
            return "libxl stream version " + version + ", expected " + V2Format.LIBXL_VERSION;
        }
        int options = got.getInt(OPTIONS_AT);
        if ((options & ~V2Format.LIBXL_OPT_LEGACY) != 0) {
            return "libxl header options 0x" + Integer.toHexString(options) + " (only the legacy-conversion flag is known)";
        }
        if (!got.slice(V2Format.LIBXL_HDR_SIZE, 8).equals(want.slice(V2Format.LIBXL_HDR_SIZE, 8))) {
            return "the first libxl record is not an empty LIBXC_CONTEXT record";
        }
        return null;
    }
}
