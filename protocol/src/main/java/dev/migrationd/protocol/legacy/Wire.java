package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** How the legacy records put their fields on the wire: fresh little-endian buffers, {@code ulong}s of width W. */
final class Wire {
    private Wire() {
    }

    /** A fresh little-endian buffer of {@code n} bytes. */
    static ByteBuffer alloc(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A fresh buffer for a chunk: its id, then room for {@code payload} bytes. */
    static ByteBuffer chunk(ChunkType type, int payload) {
        return alloc(4 + payload).putInt(type.code());
    }

    /** Puts a {@code ulong} of width {@code w}; for W = 4 the value must fit 32 bits (−1 is written as ~0). */
    static void putUlong(ByteBuffer b, Width w, long v) {
        if (w == Width.W64) {
            b.putLong(v);
        } else {
            if (v < -1 || v > 0xFFFF_FFFFL) {
                throw new IllegalArgumentException("value 0x" + Long.toHexString(v) + " does not fit a 32-bit ulong");
            }
            b.putInt((int) v);
        }
    }

    /** Hands a filled buffer (from position 0 to its position) to the sink. */
    static void send(ByteSink sink, ByteBuffer b) throws IOException {
        sink.write(b.flip());
    }
}
