package dev.migrationd.protocol.x86;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian, unaligned field access over a {@link MemorySegment}; the guest structures are all x86 (LE). */
final class Le {
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Le() {
    }

    static long u64(MemorySegment s, long off) {
        return s.get(U64, off);
    }

    static long u32(MemorySegment s, long off) {
        return Integer.toUnsignedLong(s.get(U32, off));
    }

    static int u16(MemorySegment s, long off) {
        return Short.toUnsignedInt(s.get(U16, off));
    }

    static int u8(MemorySegment s, long off) {
        return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off));
    }

    static void putU64(MemorySegment s, long off, long v) {
        s.set(U64, off, v);
    }

    /** Stores the low 32 bits; throws when {@code v} does not fit in an unsigned 32-bit field. */
    static void putU32(MemorySegment s, long off, long v) {
        if ((v >>> 32) != 0) {
            throw new IllegalArgumentException("value 0x" + Long.toHexString(v) + " does not fit a 32-bit field");
        }
        s.set(U32, off, (int) v);
    }

    static void putU16(MemorySegment s, long off, int v) {
        if ((v >>> 16) != 0) {
            throw new IllegalArgumentException("value 0x" + Integer.toHexString(v) + " does not fit a 16-bit field");
        }
        s.set(U16, off, (short) v);
    }

    static void putU8(MemorySegment s, long off, int v) {
        if ((v >>> 8) != 0) {
            throw new IllegalArgumentException("value 0x" + Integer.toHexString(v) + " does not fit an 8-bit field");
        }
        s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }
}
