package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.HypervisorException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The sim's log-dirty mode: one bit per PFN in an off-heap array of 64-bit words.
 *
 * <p>Concurrency: vCPU threads set bits with an atomic OR ({@link #mark}) <em>after</em> their store to
 * guest memory; the migration's thread takes each non-zero word with an atomic get-and-set(0). A write
 * whose mark lands after the fetch took its word is therefore reported by the next fetch, and a page
 * reported by a fetch has its write already visible to a reader (the store precedes the mark, the mark
 * precedes the swap). That is Xen's log-dirty contract. {@link #enabled} is volatile; everything else
 * is atomic per word. One migration drives enable/fetch/disable at a time (DirtyLog's contract).
 */
public final class SimDirtyLog implements DirtyLog {

    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    static {
        // the log's words are copied in bulk into DirtyBitmap's little-endian words
        if (java.nio.ByteOrder.nativeOrder() != java.nio.ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("the sim dirty log needs a little-endian host");
        }
    }

    private final String domain;
    private final long pfns;
    private final long wordCount;
    private final Arena arena;
    private final MemorySegment words;
    private volatile boolean enabled;

    SimDirtyLog(String domain, long pfns) {
        this.domain = domain;
        this.pfns = pfns;
        this.wordCount = (pfns + 63) >>> 6;
        this.arena = Arena.ofShared();
        this.words = arena.allocate(wordCount * 8, 8);
    }

    /** Called by a vCPU after its store to {@code pfn} (cheap no-op while the log is off). */
    void mark(long pfn) {
        if (enabled) {
            WORD.getAndBitwiseOr(words, (pfn >>> 6) << 3, 1L << (pfn & 63));
        }
    }

    /**
     * Marks every PFN set in {@code pattern} dirty, as if a vCPU had written it (sim only; for tests and
     * benchmarks that need a given dirty fraction without writing gigabytes). No-op while disabled.
     */
    public void markAll(DirtyBitmap pattern) {
        if (!enabled) {
            return;
        }
        long n = Math.min(wordCount, pattern.wordCount());
        for (long i = 0; i < n; i++) {
            long w = pattern.word(i);
            if (w != 0) {
                WORD.getAndBitwiseOr(words, i << 3, w);
            }
        }
    }

    @Override
    public void enable() {
        words.fill((byte) 0);
        enabled = true;
    }

    @Override
    public long fetchAndClear(DirtyBitmap into) throws HypervisorException {
        return copy(into, true, "fetch_and_clear");
    }

    @Override
    public long peek(DirtyBitmap into) throws HypervisorException {
        return copy(into, false, "peek");
    }

    private long copy(DirtyBitmap into, boolean clear, String op) throws HypervisorException {
        if (!enabled) {
            throw new HypervisorException(op, domain, "log-dirty mode is not enabled");
        }
        if (into.size() < pfns) {
            throw new HypervisorException(op, domain, "bitmap covers " + into.size() + " PFNs, domain has " + pfns);
        }
        // bulk-copy the words (native order is little-endian, as DirtyBitmap's), then take every word that
        // was non-zero atomically: bits set after the copy in a word that was zero stay for the next fetch
        MemorySegment dst = into.segment();
        MemorySegment.copy(words, 0, dst, 0, wordCount << 3);
        long count = 0;
        for (long i = 0; i < wordCount; i++) {
            long off = i << 3;
            long w = dst.get(ValueLayout.JAVA_LONG, off);
            if (w != 0) {
                if (clear) {
                    w = (long) WORD.getAndSet(words, off, 0L);
                    dst.set(ValueLayout.JAVA_LONG, off, w);
                }
                count += Long.bitCount(w);
            }
        }
        if (into.wordCount() > wordCount) {
            dst.asSlice(wordCount << 3, (into.wordCount() - wordCount) << 3).fill((byte) 0);
        }
        return count;
    }

    @Override
    public void disable() {
        enabled = false;
        words.fill((byte) 0);
    }

    @Override
    public boolean enabled() {
        return enabled;
    }

    /** Frees the log; the domain's vCPUs are stopped before. */
    void close() {
        enabled = false;
        arena.close();
    }
}
