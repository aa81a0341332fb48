package dev.migrationd.protocol.v2;

import java.nio.ByteBuffer;

/** One libxl record; framed as libxc records are. See {@link LibxcRecord} for the write contract. */
public sealed interface LibxlRecord extends LibxlItem permits LibxlSignalRecord, EmulatorRecord, CheckpointState {

    LibxlRecordType type();

    int fixedLength();

    void writeFixed(ByteBuffer out);

    default ByteBuffer[] payload() {
        return Bodies.NO_PAYLOAD;
    }

    default long bodyLength() {
        long n = fixedLength();
        for (ByteBuffer b : payload()) {
            n += b.remaining();
        }
        return n;
    }
}
