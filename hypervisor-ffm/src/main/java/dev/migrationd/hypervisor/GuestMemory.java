package dev.migrationd.hypervisor;

import dev.migrationd.protocol.PageType;
import java.lang.foreign.MemorySegment;

/** A domain's memory, in 4 KiB pages addressed by guest PFN. */
public interface GuestMemory {

    /** Number of PFNs covered (the stream's {@code p2m_size}). */
    long p2mSize();

    /**
     * Marks in {@code into} (overwriting it) every PFN that has memory (round 0 sends exactly these;
     * PV p2m holes are not populated).
     *
     * @return the number of populated PFNs
     */
    long populated(DirtyBitmap into) throws HypervisorException;

    /**
     * Maps {@code count} pages for reading. The views stay valid until the mapping is closed; they are
     * live guest memory (a running guest may change them while they are read, which the dirty log
     * catches).
     *
     * @param pfns   PFNs, each below {@link #p2mSize()}
     * @param offset first index used in {@code pfns}
     * @param count  1 .. 1024
     */
    PageMapping mapForRead(long[] pfns, int offset, int count) throws HypervisorException;

    /**
     * Writes one received page into a domain being restored (it must be paused). For PV page tables the
     * backend reverses the stream's canonicalisation where it has to (sim keeps PFN-based tables as is).
     *
     * @param src exactly 4096 bytes
     */
    void writePage(long pfn, PageType type, MemorySegment src) throws HypervisorException;

    /**
     * Records a page that carries no data in the stream: {@link PageType#XALLOC} (allocate only),
     * {@link PageType#BROKEN} (mark broken), {@link PageType#XTAB} (invalid: ensure it is not populated).
     */
    void populateOnly(long pfn, PageType type) throws HypervisorException;

    /** A read mapping of a batch of pages. Not thread-safe: one owner. */
    interface PageMapping extends AutoCloseable {
        /** Number of pages in the batch. */
        int count();

        /** The PFN of entry {@code i}. */
        long pfn(int i);

        /**
         * The type of entry {@code i}: NOTAB for HVM; L1..L4 (pinned or not) for PV page tables;
         * XTAB when the page cannot be mapped (not populated); BROKEN for a broken page.
         */
        PageType type(int i);

        /** The 4096 bytes of entry {@code i}; only for types that carry data. */
        MemorySegment page(int i);

        /**
         * The data of entries {@code first .. first+count-1} as one segment, when all of them carry data and
         * lie back to back in memory (consecutive PFNs in one mapping); else empty. A sender then hands the
         * run to the socket as one buffer instead of one per page. The default: never.
         */
        default java.util.Optional<MemorySegment> run(int first, int count) {
            return java.util.Optional.empty();
        }

        @Override
        void close() throws HypervisorException;
    }
}
