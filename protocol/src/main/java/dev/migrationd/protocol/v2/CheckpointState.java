package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;

/**
 * CHECKPOINT_STATE (5): COLO control, 8 octets.
 * <pre>
 *  0            4            8
 * +------------+------------+
 * | control_id | padding 0  |   0 new checkpoint, 1 secondary suspended, 2 ready, 3 resumed
 * +------------+------------+
 * </pre>
 */
public record CheckpointState(int controlId) implements LibxlRecord {
    public static final int NEW_CHECKPOINT = 0;
    public static final int SECONDARY_SUSPENDED = 1;
    public static final int SECONDARY_READY = 2;
    public static final int SECONDARY_RESUMED = 3;

    @Override
    public LibxlRecordType type() {
        return LibxlRecordType.CHECKPOINT_STATE;
    }

    static CheckpointState read(ByteBuffer body, long offset) throws RecordException {
        if (body.remaining() != V2Format.CHECKPOINT_STATE_SIZE) {
            throw Bodies.bad(LibxlRecordType.CHECKPOINT_STATE, offset, "length " + body.remaining() + " is not 8");
        }
        if (body.getInt(4) != 0) {
            throw Bodies.bad(LibxlRecordType.CHECKPOINT_STATE, offset, "padding field not zero");
        }
        return new CheckpointState(body.getInt(0));
    }

    @Override
    public int fixedLength() {
        return V2Format.CHECKPOINT_STATE_SIZE;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt(controlId).putInt(0);
    }
}
