package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.StreamFatalException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The libxc image header: 24 octets, big-endian whatever the stream's endianness.
 * <pre>
 *  0                       8            12           16      18      20           24
 * +-----------------------+------------+------------+-------+-------+------------+
 * | ff ff ff ff ff ff ff ff| 58 45 4e 46| 00 00 00 03| opts  | 00 00 | 00 00 00 00|
 * +-----------------------+------------+------------+-------+-------+------------+
 *   marker                  "XENF"       version 2|3  bit0 BE
 * </pre>
 * Only little-endian streams are supported (every x86 saver writes them); the reader rejects
 * the big-endian option.
 */
public record ImageHeader(int version) implements LibxcItem {
    public static final String ITEM = "IMAGE_HEADER";
    public static final ImageHeader V2 = new ImageHeader(V2Format.IHDR_VERSION_2);
    public static final ImageHeader V3 = new ImageHeader(V2Format.IHDR_VERSION_3);

    public ImageHeader {
        if (version != V2Format.IHDR_VERSION_2 && version != V2Format.IHDR_VERSION_3) {
            throw new IllegalArgumentException("image version must be 2 or 3, not " + version);
        }
    }

    /** Reads the 24 octets at {@code b}'s position (absolute reads; position unchanged). */
    static ImageHeader read(ByteBuffer b, long offset) throws StreamFatalException {
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        int p = b.position();
        long marker = be.getLong(p);
        int id = be.getInt(p + 8);
        long version = Integer.toUnsignedLong(be.getInt(p + 12));
        int options = Short.toUnsignedInt(be.getShort(p + 16));
        int res1 = Short.toUnsignedInt(be.getShort(p + 18));
        int res2 = be.getInt(p + 20);
        if (marker != V2Format.IHDR_MARKER) {
            throw fatal(offset, "bad marker 0x" + Long.toHexString(marker) + " (not a v2 image)");
        }
        if (id != V2Format.IHDR_ID) {
            throw fatal(offset, "bad id 0x" + Integer.toHexString(id) + ", expected 0x58454e46 (XENF)");
        }
        if (version != V2Format.IHDR_VERSION_2 && version != V2Format.IHDR_VERSION_3) {
            throw fatal(offset, "unknown version " + version + ", expected 2 or 3");
        }
        if ((options & V2Format.IHDR_OPT_RESZ_MASK) != 0) {
            throw fatal(offset, "reserved option bits set: 0x" + Integer.toHexString(options));
        }
        if (res1 != 0 || res2 != 0) {
            throw fatal(offset, "reserved fields not zero");
        }
        if ((options & V2Format.IHDR_OPT_BIG_ENDIAN) != 0) {
            throw fatal(offset, "big-endian streams are not supported");
        }
        return new ImageHeader((int) version);
    }

    private static StreamFatalException fatal(long offset, String problem) {
        return new StreamFatalException(ITEM, 0, offset, problem);
    }

    /** The 24 octets, in a fresh buffer ready to read. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(V2Format.IHDR_SIZE).order(ByteOrder.BIG_ENDIAN);
        b.putLong(V2Format.IHDR_MARKER).putInt(V2Format.IHDR_ID).putInt(version)
                .putShort((short) 0).putShort((short) 0).putInt(0);
        return b.flip();
    }
}
