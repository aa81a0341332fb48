package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamFatalException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The libxc domain header: 16 octets, stream endianness (little).
 * <pre>
 *  0            4      6      8            12           16
 * +------------+------+------+------------+------------+
 * | type       | 0c 00| 00 00| xen_major  | xen_minor  |
 * +------------+------+------+------------+------------+
 *   1 PV, 2 HVM  page_shift    0 = converted from legacy (minor = converter version 1)
 * </pre>
 */
public record DomainHeader(GuestType guestType, int xenMajor, int xenMinor) implements LibxcItem {
    public static final String ITEM = "DOMAIN_HEADER";
    /** xen_major of a stream converted from the legacy format. */
    public static final int CONVERTED_MAJOR = 0;
    /** xen_minor of a stream converted from the legacy format (the converter's version). */
    public static final int CONVERTED_MINOR = 1;

    public DomainHeader {
        if (guestType == null) {
            throw new IllegalArgumentException("guest type required");
        }
    }

    /** The header {@code convert-legacy-stream} writes. */
    public static DomainHeader converted(GuestType guest) {
        return new DomainHeader(guest, CONVERTED_MAJOR, CONVERTED_MINOR);
    }

    public boolean isConvertedFromLegacy() {
        return xenMajor == CONVERTED_MAJOR;
    }

    static DomainHeader read(ByteBuffer b, long offset) throws StreamFatalException {
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int p = b.position();
        long type = Integer.toUnsignedLong(le.getInt(p));
        int pageShift = Short.toUnsignedInt(le.getShort(p + 4));
        int res = Short.toUnsignedInt(le.getShort(p + 6));
        GuestType guest;
        if (type == V2Format.DHDR_TYPE_X86_PV) {
            guest = GuestType.PV;
        } else if (type == V2Format.DHDR_TYPE_X86_HVM) {
            guest = GuestType.HVM;
        } else {
            throw new StreamFatalException(ITEM, type, offset, "unknown domain type 0x" + Long.toHexString(type));
        }
        if (pageShift != V2Format.PAGE_SHIFT) {
            throw new StreamFatalException(ITEM, type, offset, "page shift " + pageShift + ", expected 12");
        }
        if (res != 0) {
            throw new StreamFatalException(ITEM, type, offset, "reserved field not zero");
        }
        return new DomainHeader(guest, le.getInt(p + 8), le.getInt(p + 12));
    }

    /** The 16 octets, in a fresh buffer ready to read. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(V2Format.DHDR_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(V2Format.domainType(guestType)).putShort((short) V2Format.PAGE_SHIFT).putShort((short) 0)
                .putInt(xenMajor).putInt(xenMinor);
        return b.flip();
    }
}
