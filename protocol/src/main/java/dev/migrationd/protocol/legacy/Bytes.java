package dev.migrationd.protocol.legacy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * An immutable byte string (opaque blobs of the stream: vcpu contexts, HVM context, QEMU state...).
 * Equality is by content, so items holding blobs compare by value.
 */
public final class Bytes {
    public static final Bytes EMPTY = new Bytes(new byte[0]);

    private final byte[] data;

    private Bytes(byte[] data) {
        this.data = data;
    }

    /** A copy of {@code data}. */
    public static Bytes of(byte[] data) {
        return new Bytes(data.clone());
    }

    /** A copy of {@code data[off, off+len)}. */
    public static Bytes of(byte[] data, int off, int len) {
        return new Bytes(Arrays.copyOfRange(data, off, off + len));
    }

    /** A copy of the remaining bytes of {@code buf} (its position is not changed). */
    public static Bytes of(ByteBuffer buf) {
        byte[] b = new byte[buf.remaining()];
        buf.duplicate().get(b);
        return new Bytes(b);
    }

    /** {@code n} zero bytes. */
    public static Bytes zeros(int n) {
        return new Bytes(new byte[n]);
    }

    /** Takes ownership of {@code data} without copying: the caller must not modify it afterwards. */
    static Bytes wrapOwned(byte[] data) {
        return new Bytes(data);
    }

    public int size() {
        return data.length;
    }

    public byte get(int i) {
        return data[i];
    }

    /** A read-only little-endian view. */
    public ByteBuffer asByteBuffer() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A copy of the content. */
    public byte[] toArray() {
        return data.clone();
    }

    /** Copies the content into {@code dst} at its position (advancing it). */
    public void copyTo(ByteBuffer dst) {
        dst.put(data);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Bytes b && Arrays.equals(data, b.data);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        int n = Math.min(16, data.length);
        return "Bytes[" + data.length + ": " + HexFormat.of().formatHex(data, 0, n) + (n < data.length ? "…" : "") + "]";
    }
}
