package dev.migrationd.hypervisor.sim;

import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;

/**
 * Checks that a guest's memory survived a move: a fast whole-memory hash (compare source and destination)
 * and the checker for the {@code ab} workload.
 *
 * <p>The hash is a sum over PFNs of a mix of (pfn, page hash), so ranges hash in parallel (common
 * fork-join pool) and in any order. A PFN that is not populated, or BROKEN, hashes as a zero page, so a
 * hole on one side and an all-zero page on the other compare equal, consistently. Read it with the domain
 * paused for a stable value.
 */
public final class IntegrityOracle {

    private static final int PAGE = StreamLimits.PAGE_SIZE;
    private static final long CHUNK_PAGES = 4096;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final long K1 = 0x9E3779B97F4A7C15L;
    private static final long K2 = 0xC2B2AE3D27D4EB4FL;
    private static final long ZERO_PAGE = pageHash(MemorySegment.ofArray(new byte[PAGE]), 0);
    /** Break positions reported at most. */
    static final int MAX_REPORTED_BREAKS = 16;

    private IntegrityOracle() {
    }

    /** The hash of every page of {@code domain}'s memory (see the class comment). */
    static long memoryHash(SimDomain domain) {
        long n = domain.meta().p2mSize;
        MemorySegment mem = domain.memorySegment();
        long chunks = (n + CHUNK_PAGES - 1) / CHUNK_PAGES;
        return LongStream.range(0, chunks).parallel().map(c -> {
            long sum = 0;
            long end = Math.min(n, (c + 1) * CHUNK_PAGES);
            for (long pfn = c * CHUNK_PAGES; pfn < end; pfn++) {
                PageType t = domain.typeAt(pfn);
                long h = t == null || !t.hasData() ? ZERO_PAGE : pageHash(mem, pfn * PAGE);
                sum += mix(h ^ (pfn * K1));
            }
            return sum;
        }).sum();
    }

    /** A 64-bit hash of the 4096 bytes at {@code offset}: four independent lanes for speed. */
    static long pageHash(MemorySegment seg, long offset) {
        long a = K1;
        long b = K2;
        long c = ~K1;
        long d = ~K2;
        for (long i = 0; i < PAGE; i += 32) {
            a = (a ^ seg.get(LONG, offset + i)) * K1;
            b = (b ^ seg.get(LONG, offset + i + 8)) * K2;
            c = (c ^ seg.get(LONG, offset + i + 16)) * K1;
            d = (d ^ seg.get(LONG, offset + i + 24)) * K2;
            a ^= a >>> 29;
            b ^= b >>> 31;
            c ^= c >>> 27;
            d ^= d >>> 33;
        }
        return mix(a + Long.rotateLeft(b, 17) + Long.rotateLeft(c, 31) + Long.rotateLeft(d, 47));
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * What the {@code ab} checker found.
     *
     * @param ok          whether the sequence holds (at most one break, a step of exactly -1, and — when the
     *                    domain is paused — the break where vCPU 0's cursor register says it is)
     * @param pages       working-set pages checked
     * @param breaks      positions (working-set indexes) where a page's byte differs from the previous one
     * @param message     one line: what was found
     */
    public record AbResult(boolean ok, long pages, List<Long> breaks, String message) {
    }

    /** Checks byte 0 of every working-set page of an {@code ab} guest (read it paused). */
    static AbResult checkAb(SimDomain domain) throws dev.migrationd.hypervisor.HypervisorException {
        WorkloadSpec spec = domain.workload();
        if (spec.pattern() != WorkloadSpec.Pattern.AB) {
            return new AbResult(false, 0, List.of(), "workload is " + spec + ", not ab");
        }
        SimLayout layout = domain.layout();
        long ws = spec.workingSetPages(layout.dataPages());
        MemorySegment mem = domain.memorySegment();
        List<Long> breaks = new ArrayList<>();
        long breakCount = 0;
        String badStep = null;
        int prev = -1;
        for (long i = 0; i < ws; i++) {
            long pfn = layout.dataPfn(i);
            if (domain.typeAt(pfn) != PageType.NOTAB) {
                return new AbResult(false, ws, breaks, "working-set page " + i + " (pfn " + pfn + ") is "
                        + (domain.typeAt(pfn) == null ? "not populated" : domain.typeAt(pfn)));
            }
            int v = mem.get(ValueLayout.JAVA_BYTE, pfn * PAGE) & 0xFF;
            if (prev >= 0 && v != prev) {
                breakCount++;
                if (breaks.size() < MAX_REPORTED_BREAKS) {
                    breaks.add(i);
                }
                if (v != ((prev - 1) & 0xFF) && badStep == null) {
                    badStep = "page " + i + " holds " + v + " after " + prev + " (expected " + ((prev - 1) & 0xFF) + ")";
                }
            }
            prev = v;
        }
        if (breakCount > 1) {
            return new AbResult(false, ws, breaks, breakCount + " breaks in the sequence, at most 1 allowed; first at "
                    + breaks);
        }
        if (badStep != null) {
            return new AbResult(false, ws, breaks, badStep);
        }
        if (!domain.running) {
            long cursor = domain.register(0, SimX86.REG_CURSOR);
            long expected = breaks.isEmpty() ? 0 : breaks.getFirst();
            if (cursor != expected) {
                return new AbResult(false, ws, breaks, "sequence breaks at page " + expected
                        + " but vCPU 0's cursor register is " + cursor);
            }
        }
        return new AbResult(true, ws, breaks, breaks.isEmpty() ? "ok: " + ws + " pages, no break"
                : "ok: " + ws + " pages, one break at page " + breaks.getFirst());
    }
}
