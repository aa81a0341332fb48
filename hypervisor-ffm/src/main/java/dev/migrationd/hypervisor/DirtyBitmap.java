package dev.migrationd.hypervisor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A caller-owned bitmap over PFNs, off-heap (a 16 GiB guest's 4 Mi pages take 512 KiB), laid out as
 * Xen's dirty bitmaps are: little-endian 64-bit words, bit {@code pfn % 64} of word {@code pfn / 64}.
 * Not thread-safe: one owner at a time.
 */
public final class DirtyBitmap implements AutoCloseable {

    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final Arena arena;
    private final MemorySegment words;
    private final long bits;

    /** A zeroed bitmap of {@code bits} PFNs. */
    public DirtyBitmap(long bits) {
        if (bits < 0) {
            throw new IllegalArgumentException("bits must not be negative: " + bits);
        }
        this.bits = bits;
        this.arena = Arena.ofShared();
        this.words = arena.allocate(Math.max(8, wordCount(bits) * 8L), 8);
    }

    private static long wordCount(long bits) {
        return (bits + 63) >>> 6;
    }

    /** Number of PFNs covered. */
    public long size() {
        return bits;
    }

    /** The words, for backends that fill the bitmap in bulk (e.g. a hypercall buffer). */
    public MemorySegment segment() {
        return words;
    }

    public long wordCount() {
        return wordCount(bits);
    }

    public long word(long index) {
        return words.getAtIndex(WORD, index);
    }

    public void setWord(long index, long value) {
        words.setAtIndex(WORD, index, value);
    }

    public boolean get(long pfn) {
        check(pfn);
        return (word(pfn >>> 6) & (1L << (pfn & 63))) != 0;
    }

    public void set(long pfn) {
        check(pfn);
        long i = pfn >>> 6;
        setWord(i, word(i) | (1L << (pfn & 63)));
    }

    public void clear(long pfn) {
        check(pfn);
        long i = pfn >>> 6;
        setWord(i, word(i) & ~(1L << (pfn & 63)));
    }

    /** Clears every bit. */
    public void clear() {
        words.fill((byte) 0);
    }

    /** Sets every bit below {@link #size()}. */
    public void setAll() {
        long n = wordCount();
        for (long i = 0; i < n; i++) {
            setWord(i, -1L);
        }
        int tail = (int) (bits & 63);
        if (tail != 0) {
            setWord(n - 1, (1L << tail) - 1);
        }
    }

    /** The first set bit at or after {@code from}, or -1. */
    public long nextSetBit(long from) {
        if (from < 0) {
            throw new IndexOutOfBoundsException("from " + from);
        }
        if (from >= bits) {
            return -1;
        }
        long i = from >>> 6;
        long w = word(i) & (-1L << (from & 63));
        long n = wordCount();
        while (true) {
            if (w != 0) {
                long pfn = (i << 6) + Long.numberOfTrailingZeros(w);
                return pfn < bits ? pfn : -1;
            }
            if (++i >= n) {
                return -1;
            }
            w = word(i);
        }
    }

    /** Number of set bits. */
    public long cardinality() {
        long n = wordCount();
        long c = 0;
        for (long i = 0; i < n; i++) {
            c += Long.bitCount(word(i));
        }
        return c;
    }

    /** Copies {@code other}'s bits into this bitmap; sizes must match. */
    public void copyFrom(DirtyBitmap other) {
        if (other.bits != bits) {
            throw new IllegalArgumentException("bitmap sizes differ: " + other.bits + " != " + bits);
        }
        MemorySegment.copy(other.words, 0, words, 0, words.byteSize());
    }

    private void check(long pfn) {
        if (pfn < 0 || pfn >= bits) {
            throw new IndexOutOfBoundsException("pfn " + pfn + " outside bitmap of " + bits);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
