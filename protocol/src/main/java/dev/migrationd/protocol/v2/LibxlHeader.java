package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.StreamFatalException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The libxl stream header: 16 octets, big-endian.
 * <pre>
 *  0                        8            12           16
 * +------------------------+------------+------------+
 * | 4c 69 62 78 6c 46 6d 74| 00 00 00 02| options    |
 * +------------------------+------------+------------+
 *   "LibxlFmt"               version 2    bit0 BE, bit1 LEGACY (converted)
 * </pre>
 */
public record LibxlHeader(boolean legacy) implements LibxlItem {
    public static final String ITEM = "LIBXL_HEADER";

    static LibxlHeader read(ByteBuffer b, long offset) throws StreamFatalException {
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        int p = b.position();
        long ident = be.getLong(p);
        long version = Integer.toUnsignedLong(be.getInt(p + 8));
        int options = be.getInt(p + 12);
        if (ident != V2Format.LIBXL_IDENT) {
            throw new StreamFatalException(ITEM, 0, offset, "bad ident 0x" + Long.toHexString(ident)
                    + ", expected 0x4c6962786c466d74 (LibxlFmt)");
        }
        if (version != V2Format.LIBXL_VERSION) {
            throw new StreamFatalException(ITEM, 0, offset, "unknown version " + version + ", expected 2");
        }
        if ((options & V2Format.LIBXL_OPT_RESZ_MASK) != 0) {
            throw new StreamFatalException(ITEM, 0, offset, "reserved option bits set: 0x"
                    + Integer.toHexString(options));
        }
        if ((options & V2Format.LIBXL_OPT_BIG_ENDIAN) != 0) {
            throw new StreamFatalException(ITEM, 0, offset, "big-endian streams are not supported");
        }
        return new LibxlHeader((options & V2Format.LIBXL_OPT_LEGACY) != 0);
    }

    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(V2Format.LIBXL_HDR_SIZE).order(ByteOrder.BIG_ENDIAN);
        b.putLong(V2Format.LIBXL_IDENT).putInt(V2Format.LIBXL_VERSION).putInt(legacy ? V2Format.LIBXL_OPT_LEGACY : 0);
        return b.flip();
    }
}
