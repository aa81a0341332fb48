package dev.migrationd.protocol.v2;

import java.nio.ByteBuffer;

/**
 * One libxc record. Each implementation reads its body ({@code static read(...)}) and writes it
 * ({@link #writeFixed} for the fixed-size fields, {@link #payload} for data views), side by side.
 * The writer frames it: {@code u32 type, u32 length, fixed fields, payload views, zero padding}.
 */
public sealed interface LibxcRecord extends LibxcItem
        permits SignalRecord, PageData, X86PvInfo, X86PvP2mFrames, VcpuRecord, SharedInfoRecord, TscInfoRecord, HvmParams,
        BlobRecord {

    RecordType type();

    /** Octets written by {@link #writeFixed}; none for a record that is all payload. */
    default int fixedLength() {
        return 0;
    }

    /** Puts the fixed-size fields (little-endian) at the position of {@code out}; nothing by default. */
    default void writeFixed(ByteBuffer out) {
    }

    /** Data that follows the fixed fields, as fresh read-only views (never copies); empty if none. */
    default ByteBuffer[] payload() {
        return Bodies.NO_PAYLOAD;
    }

    /** The record's body length (excluding padding). */
    default long bodyLength() {
        long n = fixedLength();
        for (ByteBuffer b : payload()) {
            n += b.remaining();
        }
        return n;
    }
}
