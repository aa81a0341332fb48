package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Helpers shared by the record classes: views and record-level errors. */
final class Bodies {
    private Bodies() {
    }

    static final ByteBuffer[] NO_PAYLOAD = new ByteBuffer[0];
    static final ByteBuffer EMPTY = ByteBuffer.allocate(0).asReadOnlyBuffer();

    /** A read-only little-endian view of {@code b}'s remaining octets (no copy, own position). */
    static ByteBuffer view(ByteBuffer b) {
        return b.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A read-only little-endian view of {@code len} octets of {@code b} at absolute {@code off}. */
    static ByteBuffer view(ByteBuffer b, int off, int len) {
        return b.slice(off, len).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    static RecordException bad(RecordType t, long offset, String problem) {
        return new RecordException(t.name(), t.code(), offset, problem);
    }

    static RecordException bad(LibxlRecordType t, long offset, String problem) {
        return new RecordException(t.name(), t.code(), offset, problem);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
