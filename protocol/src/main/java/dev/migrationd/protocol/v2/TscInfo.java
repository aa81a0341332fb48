package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;

/**
 * X86_TSC_INFO (0x08): 24 octets. All u32 fields are carried as Java ints (unsigned on the wire).
 * Note khz precedes nsec, unlike the legacy TSC_INFO chunk.
 * <pre>
 *  0       4       8               16      20      24
 * +-------+-------+---------------+-------+-------+
 * | mode  | khz   | nsec          | incarn| res 0 |
 * +-------+-------+---------------+-------+-------+
 * </pre>
 */
public record TscInfo(int mode, int khz, long nsec, int incarnation) implements LibxcRecord {

    @Override
    public RecordType type() {
        return RecordType.X86_TSC_INFO;
    }

    static TscInfo read(ByteBuffer body, long offset) throws RecordException {
        if (body.remaining() != V2Format.X86_TSC_INFO_SIZE) {
            throw Bodies.bad(RecordType.X86_TSC_INFO, offset, "length " + body.remaining() + " is not 24");
        }
        if (body.getInt(20) != 0) {
            throw Bodies.bad(RecordType.X86_TSC_INFO, offset, "reserved field not zero");
        }
        return new TscInfo(body.getInt(0), body.getInt(4), body.getLong(8), body.getInt(16));
    }

    @Override
    public int fixedLength() {
        return V2Format.X86_TSC_INFO_SIZE;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt(mode).putInt(khz).putLong(nsec).putInt(incarnation).putInt(0);
    }
}
