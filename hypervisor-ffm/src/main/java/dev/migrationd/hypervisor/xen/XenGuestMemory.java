package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Guest memory through libxenforeignmemory. PV guests are addressed by machine frame (their GFN is the MFN):
 * reads translate PFNs through the guest's p2m ({@link PvSource}) and return page tables canonicalised into
 * one scratch buffer per mapping; writes on a restore go through {@link PvRestore}. The rest of this
 * comment is about HVM guests.
 *
 * <p>HVM guest memory: pages are addressed by GFN = PFN. Types come from
 * {@code xc_get_pfn_type_batch}; only data-bearing pages are mapped (never a broken one), up to
 * {@link StreamLimits#MAX_BATCH_SIZE} per {@code xenforeignmemory_map} call. On a domain built for a restore,
 * pages are populated ({@code xc_domain_populate_physmap_exact}) as they arrive; which PFNs this handle
 * populated is tracked in {@code populatedByUs}, guarded by {@code this}.
 */
final class XenGuestMemory implements GuestMemory {

    static final int PAGE = StreamLimits.PAGE_SIZE;

    private final XenDomain domain;
    /** Guarded by this; only for domains built by createForRestore (null otherwise). */
    private DirtyBitmap populatedByUs;

    XenGuestMemory(XenDomain domain) {
        this.domain = domain;
    }

    @Override
    public long p2mSize() {
        try {
            return domain.p2mSize();
        } catch (HypervisorException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    @Override
    public long populated(DirtyBitmap into) throws HypervisorException {
        domain.requireAlive("memory.populated");
        long p2m = domain.p2mSize();
        if (into.size() < p2m) {
            throw new HypervisorException("memory.populated", domain.name, "bitmap covers " + into.size() + " PFNs, the domain has " + p2m);
        }
        into.clear();
        if (domain.guestType == dev.migrationd.protocol.GuestType.PV) {
            return domain.withPvSource("memory.populated", src -> {
                long count = 0;
                for (long pfn = 0; pfn < p2m; pfn++) {
                    if (src.pfnToMfn(pfn) >= 0) {
                        into.set(pfn);
                        count++;
                    }
                }
                return count;
            });
        }
        long count = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment arr = a.allocate(JAVA_LONG, StreamLimits.MAX_BATCH_SIZE);
            for (long base = 0; base < p2m; base += StreamLimits.MAX_BATCH_SIZE) {
                int n = (int) Math.min(StreamLimits.MAX_BATCH_SIZE, p2m - base);
                for (int i = 0; i < n; i++) {
                    arr.setAtIndex(JAVA_LONG, i, base + i);
                }
                domain.hv.ctrl.getPfnTypeBatch(domain.domid, n, arr);
                for (int i = 0; i < n; i++) {
                    if (typeOf(arr.getAtIndex(JAVA_LONG, i), base + i) != PageType.XTAB) {
                        into.set(base + i);
                        count++;
                    }
                }
            }
        }
        return count;
    }

    /** The page type of a {@code xc_get_pfn_type_batch} result; an HVM guest has no page-table types. */
    private PageType typeOf(long result, long pfn) throws HypervisorException {
        int nibble = (int) ((result & 0xFFFF_FFFFL) >>> PageType.LTAB_SHIFT);
        PageType t = PageType.fromNibbleOrNull(nibble);
        if (t == null || t.isPageTable() || t == PageType.XALLOC) {
            throw new HypervisorException("xc_get_pfn_type_batch", domain.name,
                    "pfn 0x" + Long.toHexString(pfn) + " has type 0x" + Integer.toHexString(nibble) + ", unexpected for an HVM guest");
        }
        return t;
    }

    @Override
    public PageMapping mapForRead(long[] pfns, int offset, int count) throws HypervisorException {
        domain.requireAlive("memory.mapForRead");
        if (count < 1 || count > StreamLimits.MAX_BATCH_SIZE) {
            throw new IllegalArgumentException("count " + count + " outside 1.." + StreamLimits.MAX_BATCH_SIZE);
        }
        if (offset < 0 || offset > pfns.length - count) {
            throw new IndexOutOfBoundsException("offset " + offset + " + count " + count + " outside pfns[" + pfns.length + "]");
        }
        long p2m = domain.p2mSize();
        long[] batch = new long[count];
        for (int i = 0; i < count; i++) {
            long pfn = pfns[offset + i];
            if (pfn < 0 || pfn >= p2m) {
                throw new IllegalArgumentException("pfn 0x" + Long.toHexString(pfn) + " outside the domain's p2m of " + p2m);
            }
            batch[i] = pfn;
        }
        if (domain.guestType == dev.migrationd.protocol.GuestType.PV) {
            return domain.withPvSource("memory.mapForRead", src -> mapPv(batch, src));
        }
        PageType[] types = new PageType[count];
        int[] slots = new int[count];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment arr = a.allocate(JAVA_LONG, count);
            MemorySegment.copy(batch, 0, arr, JAVA_LONG, 0, count);
            domain.hv.ctrl.getPfnTypeBatch(domain.domid, count, arr);
            int data = 0;
            for (int i = 0; i < count; i++) {
                types[i] = typeOf(arr.getAtIndex(JAVA_LONG, i), batch[i]);
                slots[i] = types[i].hasData() ? data++ : -1;
            }
            if (data == 0) {
                return new XenPageMapping(domain, batch, types, slots, null, 0);
            }
            MemorySegment want = a.allocate(JAVA_LONG, data);
            for (int i = 0; i < count; i++) {
                if (slots[i] >= 0) {
                    want.setAtIndex(JAVA_LONG, slots[i], batch[i]);
                }
            }
            MemorySegment errs = a.allocate(JAVA_INT, data);
            MemorySegment region = domain.hv.fmem.map(domain.domid, XenLayouts.PROT_READ, data, want, errs);
            for (int i = 0; i < count; i++) {
                if (slots[i] >= 0 && errs.getAtIndex(JAVA_INT, slots[i]) != 0) {
                    types[i] = PageType.XTAB; // not mappable (e.g. ballooned out since the type query)
                }
            }
            return new XenPageMapping(domain, batch, types, slots, region, data);
        }
    }

    /** The type of a {@code xc_get_pfn_type_batch} result for a PV guest's MFN. */
    private PageType pvTypeOf(long result, long pfn) throws HypervisorException {
        int nibble = (int) ((result & 0xFFFF_FFFFL) >>> PageType.LTAB_SHIFT);
        PageType t = PageType.fromNibbleOrNull(nibble);
        if (t == null || t == PageType.XALLOC) {
            throw new HypervisorException("xc_get_pfn_type_batch", domain.name,
                    "pfn 0x" + Long.toHexString(pfn) + " has type 0x" + Integer.toHexString(nibble) + ", unexpected for a PV guest");
        }
        return t;
    }

    /**
     * A PV batch: PFN→MFN through the guest's p2m (no MFN: XTAB), types by MFN, one map call over the
     * data-bearing MFNs, page tables canonicalised into one scratch buffer for the whole mapping.
     */
    private PageMapping mapPv(long[] batch, PvSource src) throws HypervisorException {
        src.checkP2mGeneration(domain.name);
        int count = batch.length;
        PageType[] types = new PageType[count];
        int[] slots = new int[count];
        long[] mfns = new long[count];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment arr = a.allocate(JAVA_LONG, count);
            int[] queried = new int[count];
            int q = 0;
            for (int i = 0; i < count; i++) {
                mfns[i] = src.pfnToMfn(batch[i]);
                if (mfns[i] >= 0) {
                    arr.setAtIndex(JAVA_LONG, q, mfns[i]);
                    queried[q++] = i;
                } else {
                    types[i] = PageType.XTAB; // a p2m hole
                }
            }
            if (q > 0) {
                domain.hv.ctrl.getPfnTypeBatch(domain.domid, q, arr);
            }
            for (int k = 0; k < q; k++) {
                int i = queried[k];
                types[i] = pvTypeOf(arr.getAtIndex(JAVA_LONG, k), batch[i]);
            }
            int data = 0;
            for (int i = 0; i < count; i++) {
                slots[i] = types[i].hasData() ? data++ : -1;
            }
            if (data == 0) {
                return new XenPageMapping(domain, batch, types, slots, null, 0);
            }
            MemorySegment want = a.allocate(JAVA_LONG, data);
            for (int i = 0; i < count; i++) {
                if (slots[i] >= 0) {
                    want.setAtIndex(JAVA_LONG, slots[i], mfns[i]);
                }
            }
            MemorySegment errs = a.allocate(JAVA_INT, data);
            MemorySegment region = domain.hv.fmem.map(domain.domid, XenLayouts.PROT_READ, data, want, errs);
            Arena scratchArena = null;
            try {
                int tables = 0;
                int[] scratchSlots = new int[count];
                for (int i = 0; i < count; i++) {
                    scratchSlots[i] = -1;
                    if (slots[i] >= 0 && errs.getAtIndex(JAVA_INT, slots[i]) != 0) {
                        types[i] = PageType.XTAB; // not mappable (e.g. ballooned out since the type query)
                    } else if (slots[i] >= 0 && types[i].isPageTable()) {
                        scratchSlots[i] = tables++;
                    }
                }
                if (tables == 0) {
                    return new XenPageMapping(domain, batch, types, slots, region, data);
                }
                scratchArena = Arena.ofShared();
                MemorySegment scratch = scratchArena.allocate((long) tables * PAGE, PAGE);
                boolean live = !domain.pausedByUs;
                for (int i = 0; i < count; i++) {
                    if (scratchSlots[i] >= 0) {
                        PvCanonical.canonicalisePageTable(region.asSlice((long) slots[i] * PAGE, PAGE),
                                scratch.asSlice((long) scratchSlots[i] * PAGE, PAGE), types[i], src.gw,
                                src::mfnToPfn, src.compatM2pMfn0, live, domain.name);
                    }
                }
                return new XenPageMapping(domain, batch, types, slots, region, data, scratch, scratchSlots, scratchArena);
            } catch (HypervisorException | RuntimeException e) {
                if (scratchArena != null) {
                    scratchArena.close();
                }
                try {
                    domain.hv.fmem.unmap(region, data);
                } catch (HypervisorException | RuntimeException u) {
                    e.addSuppressed(u);
                }
                throw e;
            }
        }
    }

    @Override
    public void writePage(long pfn, PageType type, MemorySegment src) throws HypervisorException {
        domain.requireAlive("memory.writePage");
        requireRestore("memory.writePage");
        if (domain.pvRestore != null) {
            domain.pvRestore.writePage(pfn, type, src);
            return;
        }
        if (type != PageType.NOTAB) {
            throw new HypervisorException("memory.writePage", domain.name, "page type " + type + " at pfn 0x"
                    + Long.toHexString(pfn) + " is not valid for an HVM guest (only NOTAB pages carry data)");
        }
        if (src.byteSize() != PAGE) {
            throw new IllegalArgumentException("a page is " + PAGE + " bytes, not " + src.byteSize());
        }
        checkPfn(pfn);
        ensurePopulated(pfn);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment want = a.allocate(JAVA_LONG);
            want.set(JAVA_LONG, 0, pfn);
            MemorySegment errs = a.allocate(JAVA_INT);
            MemorySegment region = domain.hv.fmem.map(domain.domid, XenLayouts.PROT_READ | XenLayouts.PROT_WRITE, 1, want, errs);
            try {
                int err = errs.get(JAVA_INT, 0);
                if (err != 0) {
                    throw new HypervisorException("memory.writePage", domain.name, "xenforeignmemory_map of pfn 0x"
                            + Long.toHexString(pfn) + " failed for that page: errno " + -err + " (" + NativeCalls.strerror(-err) + ")");
                }
                MemorySegment.copy(src, 0, region, 0, PAGE);
            } finally {
                domain.hv.fmem.unmap(region, 1);
            }
        }
    }

    @Override
    public void populateOnly(long pfn, PageType type) throws HypervisorException {
        domain.requireAlive("memory.populateOnly");
        requireRestore("memory.populateOnly");
        if (domain.pvRestore != null) {
            domain.pvRestore.populateOnly(pfn, type);
            return;
        }
        checkPfn(pfn);
        switch (type) {
            case XALLOC -> ensurePopulated(pfn);
            case BROKEN -> {
                ensurePopulated(pfn);
                domain.hv.ctrl.setBrokenPageP2m(domain.domid, pfn);
            }
            case XTAB -> unpopulate(pfn);
            default -> throw new IllegalArgumentException("populateOnly takes XALLOC, BROKEN or XTAB, not " + type);
        }
    }

    private void requireRestore(String operation) throws HypervisorException {
        if (domain.restoreShape == null) {
            throw new HypervisorException(operation, domain.name, "only a domain built by createForRestore can be written");
        }
    }

    private void checkPfn(long pfn) throws HypervisorException {
        long p2m = domain.p2mSize();
        if (pfn < 0 || pfn >= p2m) {
            throw new HypervisorException("memory", domain.name, "pfn 0x" + Long.toHexString(pfn) + " outside the p2m of " + p2m + " PFNs");
        }
    }

    private synchronized DirtyBitmap populatedByUs() {
        if (populatedByUs == null) {
            populatedByUs = new DirtyBitmap(domain.restoreShape.p2mSize());
        }
        return populatedByUs;
    }

    private synchronized void ensurePopulated(long pfn) throws HypervisorException {
        DirtyBitmap done = populatedByUs();
        if (done.get(pfn)) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(JAVA_LONG);
            one.set(JAVA_LONG, 0, pfn);
            domain.hv.ctrl.domainPopulatePhysmapExact(domain.domid, 1, one);
        }
        done.set(pfn);
    }

    private synchronized void unpopulate(long pfn) throws HypervisorException {
        DirtyBitmap done = populatedByUs();
        if (!done.get(pfn)) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(JAVA_LONG);
            one.set(JAVA_LONG, 0, pfn);
            domain.hv.ctrl.domainDecreaseReservationExact(domain.domid, 1, one);
        }
        done.clear(pfn);
    }

    /** Frees the bookkeeping (the domain's memory belongs to Xen). */
    synchronized void release() {
        if (populatedByUs != null) {
            populatedByUs.close();
            populatedByUs = null;
        }
    }
}
