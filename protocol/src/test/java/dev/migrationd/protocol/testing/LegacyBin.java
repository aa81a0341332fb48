package dev.migrationd.protocol.testing;

import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A little-endian byte builder for hand-made legacy streams, shapes that {@code LegacyStreamWriter} would not write
 * (bad ones, and unusual ones that libxc's restore accepts). {@code ulong} writes W bytes.
 */
public final class LegacyBin {
    private final ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private final Width w;

    public LegacyBin(Width w) {
        this.w = w;
    }

    public LegacyBin i32(int v) {
        b.putInt(v);
        return this;
    }

    public LegacyBin u64(long v) {
        b.putLong(v);
        return this;
    }

    public LegacyBin ulong(long v) {
        if (w == Width.W64) {
            b.putLong(v);
        } else {
            b.putInt((int) v);
        }
        return this;
    }

    public LegacyBin bytes(byte[] x) {
        b.put(x);
        return this;
    }

    public LegacyBin zeros(int n) {
        b.position(b.position() + n);
        return this;
    }

    /** A 4096-byte page filled with {@code fill}. */
    public LegacyBin page(int fill) {
        byte[] p = new byte[4096];
        Arrays.fill(p, (byte) fill);
        return bytes(p);
    }

    /** The toolstack width W this builder writes {@code ulong}s with. */
    public Width width() {
        return w;
    }

    public int pos() {
        return b.position();
    }

    public byte[] done() {
        return Arrays.copyOf(b.array(), b.position());
    }
}
