package dev.migrationd.hypervisor.sim;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;

/**
 * Where things live in a sim guest's physical address space: a pure function of the guest's type, width
 * and p2m size, so the source and a restored copy agree without carrying it anywhere.
 *
 * <pre>
 * HVM (identity p2m, every PFN populated):
 *   0              reserved (firmware)
 *   1              workload descriptor ("the guest's program", {@link WorkloadSpec})
 *   2 .. n-4       data pages (the workload writes here)
 *   n-3, n-2, n-1  ioreq (HVM_PARAM 5), bufioreq (6), store (1)
 *
 * PV:
 *   0              start_info
 *   1              workload descriptor
 *   2 ..           page tables: L4 (64-bit, pinned) or L3 (PAE, pinned), then L3 (64-bit), L2, L1s
 *   then           the guest's p2m (GW-sized entries), whose PFNs are the p2m frame list
 *   dataStart ..   data pages, except the last {@link #HOLE_PAGES} of every {@link #HOLE_PERIOD}:
 *                  those are p2m holes (unpopulated, XTAB)
 * </pre>
 */
record SimLayout(GuestType type, Width width, long p2mSize, int l1Pages, long p2mFirst, long p2mFrames, long dataStart,
                 long dataPages) {

    /** Smallest guest the layout supports (HVM); PV needs more for its tables. */
    static final long MIN_P2M_SIZE = 16;
    static final long DESCRIPTOR_PFN = 1;
    static final long START_INFO_PFN = 0;
    static final long PT_FIRST = 2;
    /** PV: the first mapped region covers at most this many pages (like a kernel's initial mapping). */
    static final long MAPPED_PAGES = 8192;
    static final long HOLE_PERIOD = 1024;
    static final long HOLE_PAGES = 64;

    static SimLayout of(GuestType type, Width width, long p2mSize) {
        if (p2mSize < MIN_P2M_SIZE) {
            throw new IllegalArgumentException("guest too small: " + p2mSize + " pages, at least " + MIN_P2M_SIZE);
        }
        if (type == GuestType.HVM) {
            return new SimLayout(type, width, p2mSize, 0, 0, 0, 2, p2mSize - 5);
        }
        int l1 = (int) ((Math.min(p2mSize, MAPPED_PAGES) + 511) / 512);
        int levels = width == Width.W64 ? 4 : 3;
        long tables = (levels - 1) + l1; // top level + intermediate levels + L1s (L2 and L3 one each)
        long p2mFirst = PT_FIRST + tables;
        long frames = (p2mSize + (4096 / width.bytes()) - 1) / (4096 / width.bytes());
        long dataStart = p2mFirst + frames;
        if (dataStart + 2 > p2mSize) {
            throw new IllegalArgumentException("PV guest too small: " + p2mSize + " pages cannot hold its tables");
        }
        long span = p2mSize - dataStart;
        long full = span / HOLE_PERIOD;
        long rest = span % HOLE_PERIOD;
        long data = full * (HOLE_PERIOD - HOLE_PAGES) + Math.min(rest, HOLE_PERIOD - HOLE_PAGES);
        return new SimLayout(type, width, p2mSize, l1, p2mFirst, frames, dataStart, data);
    }

    /** The PFN of data page {@code index} (0 .. dataPages-1). */
    long dataPfn(long index) {
        if (type == GuestType.HVM) {
            return dataStart + index;
        }
        long per = HOLE_PERIOD - HOLE_PAGES;
        return dataStart + (index / per) * HOLE_PERIOD + index % per;
    }

    /** Whether {@code pfn} is a PV p2m hole. */
    boolean isHole(long pfn) {
        return type == GuestType.PV && pfn >= dataStart && (pfn - dataStart) % HOLE_PERIOD >= HOLE_PERIOD - HOLE_PAGES;
    }

    int levels() {
        return width == Width.W64 ? 4 : 3;
    }

    /** PV: the PFN of the top-level page table (CR3). */
    long topTablePfn() {
        return PT_FIRST;
    }

    /** PV: the type of a page-table PFN, or null when {@code pfn} is not a page table. */
    PageType pageTableType(long pfn) {
        if (type != GuestType.PV || pfn < PT_FIRST || pfn >= p2mFirst) {
            return null;
        }
        long i = pfn - PT_FIRST;
        int levels = levels();
        if (i == 0) {
            return levels == 4 ? PageType.L4TAB_PINNED : PageType.L3TAB_PINNED;
        }
        if (i < levels - 1) {
            int level = levels - (int) i;
            return level == 3 ? PageType.L3TAB : PageType.L2TAB;
        }
        return PageType.L1TAB;
    }

    long ioreqPfn() {
        return p2mSize - 3;
    }

    long bufioreqPfn() {
        return p2mSize - 2;
    }

    long storePfn() {
        return p2mSize - 1;
    }
}
