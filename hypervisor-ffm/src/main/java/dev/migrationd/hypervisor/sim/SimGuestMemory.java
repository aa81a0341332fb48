package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The sim's {@link GuestMemory}: page views are slices of the mapped memory file (no copies); page types
 * and population come from the domain's p2m table. Thread-safe as the domain is; writes (restore) only
 * while the domain is paused.
 */
final class SimGuestMemory implements GuestMemory {

    private static final int PAGE = StreamLimits.PAGE_SIZE;
    /** The contents of an allocate-only page in the Xen-like mode ({@link SimHypervisor#setUnscrubbedAllocations}). */
    private static final byte STALE_BYTE = (byte) 0xA5;
    private final SimDomain domain;

    SimGuestMemory(SimDomain domain) {
        this.domain = domain;
    }

    @Override
    public long p2mSize() {
        return domain.meta().p2mSize;
    }

    @Override
    public long populated(DirtyBitmap into) throws HypervisorException {
        domain.checkAlive("populated");
        long n = p2mSize();
        if (into.size() < n) {
            throw new HypervisorException("populated", domain.name(), "bitmap covers " + into.size() + " PFNs, domain has " + n);
        }
        into.clear();
        MemorySegment table = domain.p2mTable();
        long count = 0;
        for (long word = 0; word < (n + 63) >>> 6; word++) {
            long bits = 0;
            long base = word << 6;
            int limit = (int) Math.min(64, n - base);
            for (int b = 0; b < limit; b++) {
                if ((table.get(ValueLayout.JAVA_BYTE, base + b) & SimDomain.POPULATED) != 0) {
                    bits |= 1L << b;
                }
            }
            into.setWord(word, bits);
            count += Long.bitCount(bits);
        }
        return count;
    }

    @Override
    public PageMapping mapForRead(long[] pfns, int offset, int count) throws HypervisorException {
        domain.checkAlive("map");
        if (count < 1 || count > StreamLimits.MAX_BATCH_SIZE) {
            throw new HypervisorException("map", domain.name(), "count " + count + " outside 1.." + StreamLimits.MAX_BATCH_SIZE);
        }
        if (offset < 0 || offset > pfns.length - count) {
            throw new HypervisorException("map", domain.name(), "range " + offset + "+" + count + " outside an array of " + pfns.length);
        }
        long[] batch = new long[count];
        PageType[] types = new PageType[count];
        for (int i = 0; i < count; i++) {
            long pfn = pfns[offset + i];
            if (pfn < 0 || pfn >= p2mSize()) {
                throw new HypervisorException("map", domain.name(), "pfn " + pfn + " outside 0.." + (p2mSize() - 1));
            }
            batch[i] = pfn;
            PageType t = domain.typeAt(pfn);
            types[i] = t == null ? PageType.XTAB : t;
        }
        return new Mapping(domain.memorySegment(), batch, types);
    }

    private static final class Mapping implements PageMapping {
        private final MemorySegment memory;
        private final long[] pfns;
        private final PageType[] types;

        Mapping(MemorySegment memory, long[] pfns, PageType[] types) {
            this.memory = memory;
            this.pfns = pfns;
            this.types = types;
        }

        @Override
        public java.util.Optional<MemorySegment> run(int first, int count) {
            if (first < 0 || count < 1 || first > pfns.length - count) {
                throw new IndexOutOfBoundsException("run " + first + "+" + count + " of a mapping of " + pfns.length);
            }
            long start = pfns[first];
            for (int k = 0; k < count; k++) {
                if (pfns[first + k] != start + k || !types[first + k].hasData()) {
                    return java.util.Optional.empty();
                }
            }
            return java.util.Optional.of(memory.asSlice(start * PAGE, (long) count * PAGE).asReadOnly());
        }

        @Override
        public int count() {
            return pfns.length;
        }

        @Override
        public long pfn(int i) {
            return pfns[i];
        }

        @Override
        public PageType type(int i) {
            return types[i];
        }

        @Override
        public MemorySegment page(int i) {
            if (!types[i].hasData()) {
                throw new IllegalStateException("pfn " + pfns[i] + " has type " + types[i] + " and no data");
            }
            return memory.asSlice(pfns[i] * PAGE, PAGE).asReadOnly();
        }

        @Override
        public void close() {
            // views of a long-lived mapping: nothing to release
        }
    }

    private void checkPfn(String op, long pfn) throws HypervisorException {
        if (pfn < 0 || pfn >= p2mSize()) {
            throw new HypervisorException(op, domain.name(), "pfn " + pfn + " outside 0.." + (p2mSize() - 1));
        }
    }

    @Override
    public void writePage(long pfn, PageType type, MemorySegment src) throws HypervisorException {
        domain.checkPaused("write_page");
        checkPfn("write_page", pfn);
        if (type == null || !type.hasData()) {
            throw new HypervisorException("write_page", domain.name(), "type " + type + " carries no data (use populateOnly)");
        }
        if (type.isPageTable() && domain.guestType() != GuestType.PV) {
            throw new HypervisorException("write_page", domain.name(), "page-table type " + type + " in an HVM guest (pfn " + pfn + ")");
        }
        if (src.byteSize() != PAGE) {
            throw new HypervisorException("write_page", domain.name(), "page of " + src.byteSize() + " bytes, expected " + PAGE);
        }
        MemorySegment.copy(src, 0, domain.memorySegment(), pfn * PAGE, PAGE);
        domain.setType(pfn, type);
        domain.pageWritten(pfn);
    }

    @Override
    public void populateOnly(long pfn, PageType type) throws HypervisorException {
        domain.checkPaused("populate");
        checkPfn("populate", pfn);
        switch (type) {
            case XALLOC -> {
                if (domain.typeAt(pfn) == null) {
                    if (domain.hypervisor().unscrubbedAllocations()) {
                        // what a page freed by another domain still holds
                        domain.memorySegment().asSlice(pfn * PAGE, PAGE).fill(STALE_BYTE);
                    }
                    domain.setType(pfn, PageType.NOTAB);
                }
            }
            case BROKEN -> domain.setType(pfn, PageType.BROKEN);
            case XTAB -> {
                domain.setType(pfn, null);
                domain.punchHole(pfn);
            }
            default -> throw new HypervisorException("populate", domain.name(), "type " + type + " carries data (use writePage)");
        }
    }
}
