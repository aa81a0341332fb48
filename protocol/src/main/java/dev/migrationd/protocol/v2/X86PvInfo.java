package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;

/**
 * X86_PV_INFO (0x02): the PV guest's word width and page-table depth. 8 octets.
 * <pre>
 *  0    1    2      4          8
 * +----+----+------+----------+
 * | gw | pt | res  | res      |   gw = 4|8 (guest width), pt = 3|4 (levels), reserved 0
 * +----+----+------+----------+
 * </pre>
 */
public record X86PvInfo(int guestWidth, int ptLevels) implements LibxcRecord {
    public static final X86PvInfo GUEST_64 = new X86PvInfo(8, 4);
    public static final X86PvInfo GUEST_32 = new X86PvInfo(4, 3);

    public X86PvInfo {
        if (guestWidth != 4 && guestWidth != 8) {
            throw new IllegalArgumentException("guest width must be 4 or 8, not " + guestWidth);
        }
        if (ptLevels != 3 && ptLevels != 4) {
            throw new IllegalArgumentException("page-table levels must be 3 or 4, not " + ptLevels);
        }
    }

    @Override
    public RecordType type() {
        return RecordType.X86_PV_INFO;
    }

    static X86PvInfo read(ByteBuffer body, long offset) throws RecordException {
        if (body.remaining() != V2Format.X86_PV_INFO_SIZE) {
            throw Bodies.bad(RecordType.X86_PV_INFO, offset, "length " + body.remaining() + " is not 8");
        }
        int width = Byte.toUnsignedInt(body.get(0));
        int levels = Byte.toUnsignedInt(body.get(1));
        if (body.getShort(2) != 0 || body.getInt(4) != 0) {
            throw Bodies.bad(RecordType.X86_PV_INFO, offset, "reserved fields not zero");
        }
        if (width != 4 && width != 8) {
            throw Bodies.bad(RecordType.X86_PV_INFO, offset, "guest width " + width + " is not 4 or 8");
        }
        if (levels != 3 && levels != 4) {
            throw Bodies.bad(RecordType.X86_PV_INFO, offset, "page-table levels " + levels + " is not 3 or 4");
        }
        return new X86PvInfo(width, levels);
    }

    @Override
    public int fixedLength() {
        return V2Format.X86_PV_INFO_SIZE;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.put((byte) guestWidth).put((byte) ptLevels).putShort((short) 0).putInt(0);
    }
}
