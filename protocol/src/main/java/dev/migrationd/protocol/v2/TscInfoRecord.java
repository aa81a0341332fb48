package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.x86.TscInfo;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * X86_TSC_INFO (0x08): 24 octets carrying a {@link TscInfo}. The u32 fields are unsigned on the wire.
 * Note khz precedes nsec, unlike the legacy TSC_INFO chunk.
 * <pre>
 *  0       4       8               16      20      24
 * +-------+-------+---------------+-------+-------+
 * | mode  | khz   | nsec          | incarn| res 0 |
 * +-------+-------+---------------+-------+-------+
 * </pre>
 */
public record TscInfoRecord(TscInfo tsc) implements LibxcRecord {

    public TscInfoRecord {
        Objects.requireNonNull(tsc, "tsc");
    }

    @Override
    public RecordType type() {
        return RecordType.X86_TSC_INFO;
    }

    static TscInfoRecord read(ByteBuffer body, long offset) throws RecordException {
        if (body.remaining() != V2Format.X86_TSC_INFO_SIZE) {
            throw Bodies.bad(RecordType.X86_TSC_INFO, offset, "length " + body.remaining() + " is not 24");
        }
        if (body.getInt(20) != 0) {
            throw Bodies.bad(RecordType.X86_TSC_INFO, offset, "reserved field not zero");
        }
        return new TscInfoRecord(new TscInfo(body.getInt(0), body.getLong(8), body.getInt(4), body.getInt(16)));
    }

    @Override
    public int fixedLength() {
        return V2Format.X86_TSC_INFO_SIZE;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt(tsc.mode()).putInt(tsc.khz()).putLong(tsc.nsec()).putInt(tsc.incarnation()).putInt(0);
    }
}
