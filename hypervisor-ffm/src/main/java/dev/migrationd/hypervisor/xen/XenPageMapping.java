package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import java.lang.foreign.MemorySegment;

/**
 * One {@code xenforeignmemory_map} region holding the data-bearing pages of a batch, in batch order;
 * entries without data (XTAB, BROKEN) have no slot. PV page tables are served from one off-heap scratch
 * buffer per mapping, holding their canonicalised copies. Not thread-safe: one owner, as the interface says.
 */
final class XenPageMapping implements GuestMemory.PageMapping {

    private final XenDomain domain;
    private final long[] pfns;
    private final PageType[] types;
    /** Index of each entry's page in {@code region}, or -1. */
    private final int[] slots;
    private final MemorySegment region;
    private final int mappedPages;
    /** Canonicalised page tables (PV), or null; entry i's copy is at {@code scratchSlots[i]}, -1 for none. */
    private final MemorySegment scratch;
    private final int[] scratchSlots;
    private final java.lang.foreign.Arena scratchArena;
    private boolean closed;

    XenPageMapping(XenDomain domain, long[] pfns, PageType[] types, int[] slots, MemorySegment region, int mappedPages) {
        this(domain, pfns, types, slots, region, mappedPages, null, null, null);
    }

    XenPageMapping(XenDomain domain, long[] pfns, PageType[] types, int[] slots, MemorySegment region, int mappedPages,
                   MemorySegment scratch, int[] scratchSlots, java.lang.foreign.Arena scratchArena) {
        this.domain = domain;
        this.pfns = pfns;
        this.types = types;
        this.slots = slots;
        this.region = region;
        this.mappedPages = mappedPages;
        this.scratch = scratch;
        this.scratchSlots = scratchSlots;
        this.scratchArena = scratchArena;
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
        if (closed) {
            throw new IllegalStateException("mapping closed");
        }
        if (!types[i].hasData() || slots[i] < 0) {
            throw new IllegalStateException("entry " + i + " (pfn 0x" + Long.toHexString(pfns[i]) + ") is " + types[i] + " and has no data");
        }
        if (scratch != null && scratchSlots[i] >= 0) {
            return scratch.asSlice((long) scratchSlots[i] * XenGuestMemory.PAGE, XenGuestMemory.PAGE);
        }
        return region.asSlice((long) slots[i] * XenGuestMemory.PAGE, XenGuestMemory.PAGE);
    }

    @Override
    public void close() throws HypervisorException {
        if (closed) {
            return;
        }
        closed = true;
        if (scratchArena != null) {
            scratchArena.close();
        }
        if (region != null) {
            domain.hv.fmem.unmap(region, mappedPages);
        }
    }
}
