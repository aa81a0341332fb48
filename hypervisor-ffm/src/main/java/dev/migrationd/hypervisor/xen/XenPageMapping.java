package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import java.lang.foreign.MemorySegment;

/**
 * One {@code xenforeignmemory_map} region holding the data-bearing pages of a batch, in batch order;
 * entries without data (XTAB, BROKEN) have no slot. Not thread-safe: one owner, as the interface says.
 */
final class XenPageMapping implements GuestMemory.PageMapping {

    private final XenDomain domain;
    private final long[] pfns;
    private final PageType[] types;
    /** Index of each entry's page in {@code region}, or -1. */
    private final int[] slots;
    private final MemorySegment region;
    private final int mappedPages;
    private boolean closed;

    XenPageMapping(XenDomain domain, long[] pfns, PageType[] types, int[] slots, MemorySegment region, int mappedPages) {
        this.domain = domain;
        this.pfns = pfns;
        this.types = types;
        this.slots = slots;
        this.region = region;
        this.mappedPages = mappedPages;
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
        return region.asSlice((long) slots[i] * XenGuestMemory.PAGE, XenGuestMemory.PAGE);
    }

    @Override
    public void close() throws HypervisorException {
        if (closed) {
            return;
        }
        closed = true;
        if (region != null) {
            domain.hv.fmem.unmap(region, mappedPages);
        }
    }
}
