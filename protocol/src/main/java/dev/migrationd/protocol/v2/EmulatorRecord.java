package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;

/**
 * EMULATOR_XENSTORE_DATA (2: {@code key\0value\0} pairs) and EMULATOR_CONTEXT (3: the device
 * model's saved state), which share one shape. Emulator ids: 0 unknown (legacy-converted),
 * 1 qemu-traditional, 2 qemu-upstream.
 * <pre>
 *  0            4            8                 8+n
 * +------------+------------+-----------------+
 * | emulator_id| index      | data[n]         |
 * +------------+------------+-----------------+
 * </pre>
 */
public record EmulatorRecord(LibxlRecordType type, int emulatorId, int index, ByteBuffer data)
        implements LibxlRecord {
    public EmulatorRecord {
        if (type != LibxlRecordType.EMULATOR_XENSTORE_DATA && type != LibxlRecordType.EMULATOR_CONTEXT) {
            throw new IllegalArgumentException(type + " is not an emulator record");
        }
        if (emulatorId < V2Format.EMULATOR_UNKNOWN || emulatorId > V2Format.EMULATOR_QEMU_UPSTREAM) {
            throw new IllegalArgumentException("unknown emulator id " + emulatorId);
        }
        data = Bodies.view(data);
    }

    @Override
    public ByteBuffer data() {
        return Bodies.view(data);
    }

    static EmulatorRecord read(LibxlRecordType type, ByteBuffer body, long offset) throws RecordException {
        int len = body.remaining();
        if (len < V2Format.EMULATOR_HDR_SIZE) {
            throw Bodies.bad(type, offset, "length " + len + " is below 8");
        }
        long id = Integer.toUnsignedLong(body.getInt(0));
        if (id > V2Format.EMULATOR_QEMU_UPSTREAM) {
            throw Bodies.bad(type, offset, "unknown emulator id " + id);
        }
        ByteBuffer data = Bodies.view(body, 8, len - 8);
        if (type == LibxlRecordType.EMULATOR_XENSTORE_DATA && data.hasRemaining()) {
            if (data.get(data.limit() - 1) != 0) {
                throw Bodies.bad(type, offset, "xenstore data not NUL terminated");
            }
            int strings = 0;
            for (int i = 0; i < data.limit(); i++) {
                if (data.get(i) == 0) {
                    strings++;
                }
            }
            if (strings % 2 != 0) {
                throw Bodies.bad(type, offset, "odd number of xenstore strings (" + strings + ")");
            }
        }
        return new EmulatorRecord(type, (int) id, body.getInt(4), data);
    }

    @Override
    public int fixedLength() {
        return V2Format.EMULATOR_HDR_SIZE;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt(emulatorId).putInt(index);
    }

    @Override
    public ByteBuffer[] payload() {
        return data.hasRemaining() ? new ByteBuffer[] {data()} : Bodies.NO_PAYLOAD;
    }
}
