package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running PV guest's frame translation, as a save needs it (docs/wire-format-legacy.md §3.2, §5.3): Xen's M2P
 * (MFN→PFN, mapped from {@code DOMID_XEN} in its 2 MiB chunks), the guest's shared-info page, and the
 * guest's own p2m (PFN→MFN) found through {@code shared_info.arch.pfn_to_mfn_frame_list_list} → frame
 * list → p2m frames. All mappings are live views of guest and Xen memory, read-only, held until
 * {@link #close()}.
 *
 * <p>Two p2m forms are followed, as Xen's own save does: the virtually mapped linear list a guest publishes
 * in {@code arch.p2m_cr3}/{@code arch.p2m_vaddr} (preferred; its {@code arch.p2m_generation} must not change
 * during the migration), else the three-level frame-list tree.
 *
 * <p>Thread-safety: immutable after {@link #open}; lookups only read the mappings and may run on any thread.
 * {@link #close()} is called once by the owning {@link XenDomain}, under its lock.
 */
final class PvSource implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PvSource.class);

    static final int PAGE = StreamLimits.PAGE_SIZE;
    /** Xen's M2P is made of 2 MiB chunks ({@code M2P_CHUNK_SIZE}) of 8-byte entries. */
    static final int M2P_CHUNK_PAGES = 512;
    static final int M2P_ENTRIES_PER_CHUNK = M2P_CHUNK_PAGES * PAGE / 8;
    /** Most pages mapped by one {@code xenforeignmemory_map} call here. */
    static final int MAX_PAGES_PER_MAP = StreamLimits.MAX_BATCH_SIZE;
    /** Largest M2P this backend maps: 16 TiB of host RAM (4096 chunks of 2 MiB). */
    static final long MAX_M2P_CHUNKS = 4096;

    private static final java.lang.foreign.ValueLayout.OfLong U64 = JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.foreign.ValueLayout.OfInt U32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final Width gw;
    final long p2mSize;
    final long maxMfn;
    /** First frame of the compat M2P (PAE guests), -1 for 64-bit guests. */
    final long compatM2pMfn0;
    private final int fpp;
    private final ForeignMemory fmem;
    private final List<Mapped> mappings;
    private final MemorySegment[] m2pChunks;
    private final MemorySegment shinfo;
    private final MemorySegment[] p2mRegions;
    private final long[] framePfns;
    /** Whether the p2m is the guest's linear list; then {@link #p2mGeneration} is its generation when mapped. */
    private final boolean linear;
    private final long p2mGeneration;
    private final long generationOffset;

    private record Mapped(MemorySegment region, long pages) {
    }

    private PvSource(Width gw, long p2mSize, long maxMfn, long compatM2pMfn0, ForeignMemory fmem, List<Mapped> mappings,
                     MemorySegment[] m2pChunks, MemorySegment shinfo, MemorySegment[] p2mRegions, long[] framePfns,
                     boolean linear, long p2mGeneration) {
        this.gw = gw;
        this.p2mSize = p2mSize;
        this.maxMfn = maxMfn;
        this.compatM2pMfn0 = compatM2pMfn0;
        this.fpp = PAGE / gw.bytes();
        this.fmem = fmem;
        this.mappings = mappings;
        this.m2pChunks = m2pChunks;
        this.shinfo = shinfo;
        this.p2mRegions = p2mRegions;
        this.framePfns = framePfns;
        this.linear = linear;
        this.p2mGeneration = p2mGeneration;
        this.generationOffset = XenLayouts.offset(gw == Width.W64 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32,
                "arch", "p2m_generation");
    }

    /** Maps the M2P, the shared info and the p2m of {@code d}; every failure unmaps what was mapped. */
    static PvSource open(XenDomain d, Width gw, long sharedInfoFrame) throws HypervisorException {
        XenCtrl ctrl = d.hv.ctrl;
        ForeignMemory fmem = d.hv.fmem;
        String op = "pv.map";
        List<Mapped> mapped = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            long p2mSize = d.p2mSize();
            // M2P
            long maxMfn = ctrl.maximumRamPage();
            long chunks = (maxMfn + 1 + M2P_ENTRIES_PER_CHUNK - 1) / M2P_ENTRIES_PER_CHUNK;
            if (maxMfn < 1 || chunks > MAX_M2P_CHUNKS) {
                throw new HypervisorException(op, d.name, "Xen reports a maximum RAM page of 0x" + Long.toHexString(maxMfn)
                        + " (this backend maps M2Ps of up to " + MAX_M2P_CHUNKS + " chunks)");
            }
            MemorySegment chunkMfns = a.allocate(JAVA_LONG, chunks);
            ctrl.machphysMfnList(chunks, chunkMfns);
            MemorySegment[] m2p = new MemorySegment[(int) chunks];
            MemorySegment frames = a.allocate(JAVA_LONG, M2P_CHUNK_PAGES);
            MemorySegment errs = a.allocate(JAVA_INT, MAX_PAGES_PER_MAP);
            for (int c = 0; c < chunks; c++) {
                long first = chunkMfns.getAtIndex(JAVA_LONG, c);
                for (int k = 0; k < M2P_CHUNK_PAGES; k++) {
                    frames.setAtIndex(JAVA_LONG, k, first + k);
                }
                m2p[c] = map(fmem, XenLayouts.DOMID_XEN, M2P_CHUNK_PAGES, frames, errs, mapped, op, d.name, "M2P chunk " + c);
            }
            long compat = -1;
            if (gw == Width.W32) {
                MemorySegment xmml = a.allocate(XenLayouts.XEN_MACHPHYS_MFN_LIST);
                MemorySegment one = a.allocate(JAVA_LONG);
                xmml.set(JAVA_INT, XenLayouts.offset(XenLayouts.XEN_MACHPHYS_MFN_LIST, "max_extents"), 1);
                xmml.set(java.lang.foreign.ValueLayout.ADDRESS, XenLayouts.offset(XenLayouts.XEN_MACHPHYS_MFN_LIST, "extent_start"), one);
                ctrl.memoryOp(XenLayouts.XENMEM_MACHPHYS_COMPAT_MFN_LIST, xmml);
                int n = xmml.get(JAVA_INT, XenLayouts.offset(XenLayouts.XEN_MACHPHYS_MFN_LIST, "nr_extents"));
                if (n != 1) {
                    throw new HypervisorException(op, d.name, "Xen returned " + n + " compat M2P frames, expected 1");
                }
                compat = one.get(JAVA_LONG, 0);
            }
            // shared info
            MemorySegment one = a.allocate(JAVA_LONG);
            one.set(JAVA_LONG, 0, sharedInfoFrame);
            MemorySegment shinfo = map(fmem, d.domid, 1, one, errs, mapped, op, d.name, "shared info (mfn 0x" + Long.toHexString(sharedInfoFrame) + ")");
            // the p2m: a virtually mapped linear list when the guest publishes one (preferred), else the tree
            int w = gw.bytes();
            int fpp = PAGE / w;
            long flEntries = (p2mSize - 1) / fpp + 1;
            var arch = gw == Width.W64 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32;
            long p2mCr3 = word(gw, shinfo, XenLayouts.offset(arch, "arch", "p2m_cr3"));
            long generation = 0;
            long[] leafMfns;
            if (p2mCr3 != 0) {
                generation = word(gw, shinfo, XenLayouts.offset(arch, "arch", "p2m_generation"));
                long vaddr = word(gw, shinfo, XenLayouts.offset(arch, "arch", "p2m_vaddr"));
                leafMfns = walkLinearP2m(fmem, d, gw, p2mCr3, vaddr, flEntries, maxMfn, errs, mapped);
            } else {
                long fllMfn = word(gw, shinfo, XenLayouts.offset(arch, "arch", "pfn_to_mfn_frame_list_list"));
                leafMfns = walkP2mTree(fmem, d, gw, fllMfn, p2mSize, maxMfn, a, errs, mapped);
            }
            int regions = (int) ((flEntries + MAX_PAGES_PER_MAP - 1) / MAX_PAGES_PER_MAP);
            MemorySegment[] p2m = new MemorySegment[regions];
            MemorySegment leaves = a.allocate(JAVA_LONG, MAX_PAGES_PER_MAP);
            for (int r = 0; r < regions; r++) {
                int n = (int) Math.min(MAX_PAGES_PER_MAP, flEntries - (long) r * MAX_PAGES_PER_MAP);
                MemorySegment.copy(leafMfns, r * MAX_PAGES_PER_MAP, leaves, JAVA_LONG, 0, n);
                p2m[r] = map(fmem, d.domid, n, leaves, errs, mapped, op, d.name, "p2m frames");
            }
            PvSource src = new PvSource(gw, p2mSize, maxMfn, compat, fmem, mapped, m2p, shinfo, p2m, new long[(int) flEntries],
                    p2mCr3 != 0, generation);
            for (int x = 0; x < flEntries; x++) {
                long pfn = src.mfnToPfn(leafMfns[x]);
                if (pfn < 0) {
                    throw new HypervisorException(op, d.name, "p2m frame " + x + " (mfn 0x" + Long.toHexString(leafMfns[x])
                            + ") is not a page of the guest");
                }
                src.framePfns[x] = pfn;
            }
            LOG.info("event=pv_source_mapped backend=xen domain={} width={} p2m_size={} p2m_frames={} p2m={} max_mfn=0x{}",
                    d.name, gw.bits(), p2mSize, flEntries, p2mCr3 != 0 ? "linear" : "tree", Long.toHexString(maxMfn));
            return src;
        } catch (HypervisorException | RuntimeException e) {
            unmapAll(fmem, mapped, e);
            throw e;
        }
    }

    /** docs/wire-format-legacy.md §3.2: {@code arch.pfn_to_mfn_frame_list_list} → frame list pages → the p2m frames' MFNs. */
    private static long[] walkP2mTree(ForeignMemory fmem, XenDomain d, Width gw, long fllMfn, long p2mSize, long maxMfn,
                                      Arena a, MemorySegment errs, List<Mapped> mapped) throws HypervisorException {
        String op = "pv.map";
        int fpp = PAGE / gw.bytes();
        long maxPfn = p2mSize - 1;
        long fllEntries = maxPfn / ((long) fpp * fpp) + 1;
        long flEntries = maxPfn / fpp + 1;
        if (fllEntries > fpp) {
            throw new HypervisorException(op, d.name, "p2m of " + p2mSize + " PFNs is too large for a p2m tree");
        }
        if (fllMfn == 0 || fllMfn > maxMfn) {
            throw new HypervisorException(op, d.name, "shared_info.arch.pfn_to_mfn_frame_list_list is mfn 0x"
                    + Long.toHexString(fllMfn) + ", not a frame of this host, and the guest publishes no linear p2m (arch.p2m_cr3)");
        }
        MemorySegment one = a.allocate(JAVA_LONG);
        one.set(JAVA_LONG, 0, fllMfn);
        MemorySegment fll = map(fmem, d.domid, 1, one, errs, mapped, op, d.name, "p2m frame list list");
        MemorySegment flMfns = a.allocate(JAVA_LONG, fllEntries);
        for (long x = 0; x < fllEntries; x++) {
            flMfns.setAtIndex(JAVA_LONG, x, checkedMfn(gw, fll, x, maxMfn, op, d.name, "p2m frame list list"));
        }
        MemorySegment fl = map(fmem, d.domid, fllEntries, flMfns, errs, mapped, op, d.name, "p2m frame list");
        long[] leafMfns = new long[(int) flEntries];
        for (int x = 0; x < flEntries; x++) {
            leafMfns[x] = checkedMfn(gw, fl, x, maxMfn, op, d.name, "p2m frame list");
        }
        unmapLast(fmem, mapped, fl);
        unmapLast(fmem, mapped, fll);
        return leafMfns;
    }

    /** Xen's reserved virtual ranges, which a guest's linear p2m must not overlap. */
    static final long HYPERVISOR_VIRT_START_X86_64 = 0xFFFF_8000_0000_0000L;
    static final long HYPERVISOR_VIRT_END_X86_64 = 0xFFFF_87FF_FFFF_FFFFL;
    static final long HYPERVISOR_VIRT_START_X86_32 = 0xF580_0000L;

    /**
     * A linear p2m list ({@code arch.p2m_cr3}, {@code arch.p2m_vaddr}): walks the guest's page tables from
     * p2m_cr3, one level at a time, over the virtual range that holds {@code frames} p2m pages, and returns
     * the MFNs of those pages in virtual order. The tables of one level are mapped together, so that an
     * index counted from the range's start finds its entry across them.
     */
    private static long[] walkLinearP2m(ForeignMemory fmem, XenDomain d, Width gw, long p2mCr3, long vaddr, long frames,
                                        long maxMfn, MemorySegment errs, List<Mapped> mapped) throws HypervisorException {
        String op = "pv.map";
        long end = vaddr + frames * PAGE - 1;
        long mask;
        if (gw == Width.W64) {
            mask = 0x0000_FFFF_FFFF_FFFFL;
            boolean canonical = (vaddr >> 47) == (vaddr >> 63) && (end >> 47) == (end >> 63);
            if (!canonical || Long.compareUnsigned(end, vaddr) < 0
                    || (Long.compareUnsigned(vaddr, HYPERVISOR_VIRT_END_X86_64) <= 0 && Long.compareUnsigned(end, HYPERVISOR_VIRT_START_X86_64) >= 0)) {
                throw new HypervisorException(op, d.name, "bad linear p2m range 0x" + Long.toHexString(vaddr) + "-0x" + Long.toHexString(end));
            }
        } else {
            mask = 0xFFFF_FFFFL;
            if (vaddr > mask || end > mask || end < vaddr || end >= HYPERVISOR_VIRT_START_X86_32) {
                throw new HypervisorException(op, d.name, "bad linear p2m range 0x" + Long.toHexString(vaddr) + "-0x" + Long.toHexString(end));
            }
        }
        long root = PvCanonical.cr3ToFrame(gw, p2mCr3);
        if (root == 0 || root > maxMfn) {
            throw new HypervisorException(op, d.name, "arch.p2m_cr3 0x" + Long.toHexString(p2mCr3) + " is not a frame of this host");
        }
        long frameMask = PvCanonical.frameMask(gw);
        long[] tables = {root};
        long off = 0;
        try (Arena a = Arena.ofConfined()) {
            for (int level = PvCanonical.topLevel(gw); level >= 1; level--) {
                if (tables.length > MAX_PAGES_PER_MAP) {
                    throw new HypervisorException(op, d.name, "the linear p2m needs " + tables.length + " L" + level
                            + " tables (at most " + MAX_PAGES_PER_MAP + ")");
                }
                MemorySegment want = a.allocate(JAVA_LONG, tables.length);
                MemorySegment.copy(tables, 0, want, JAVA_LONG, 0, tables.length);
                MemorySegment ptes = map(fmem, d.domid, tables.length, want, errs, mapped, op, d.name, "L" + level + " tables of the linear p2m");
                int shift = level * 9 + 3;
                long first = ((vaddr - off) & mask) >>> shift;
                long last = ((end - off) & mask) >>> shift;
                if (last >= (long) tables.length * PvCanonical.PTES_PER_PAGE || last - first + 1 > Integer.MAX_VALUE) {
                    throw new HypervisorException(op, d.name, "the linear p2m range runs past its L" + level + " tables");
                }
                long[] next = new long[(int) (last - first + 1)];
                for (long idx = first; idx <= last; idx++) {
                    long pte = ptes.getAtIndex(PvCanonical.PTE, idx);
                    long mfn = (pte & frameMask) >>> 12;
                    if ((pte & PvCanonical.PAGE_PRESENT) == 0 || mfn == 0 || mfn > maxMfn) {
                        throw new HypervisorException(op, d.name, "bad mfn 0x" + Long.toHexString(mfn) + " at L" + level + " of the linear p2m"
                                + " for vaddr 0x" + Long.toHexString(off + (idx << shift)));
                    }
                    next[(int) (idx - first)] = mfn;
                }
                unmapLast(fmem, mapped, ptes);
                tables = next;
                off = vaddr & ((mask >>> shift) << shift);
            }
        }
        if (tables.length != frames) {
            throw new HypervisorException(op, d.name, "the linear p2m walk found " + tables.length + " frames, expected " + frames);
        }
        return tables;
    }

    /**
     * Fails when the guest changed the layout of its linear p2m since it was mapped (the frames sent at the
     * start would no longer be the p2m); a no-op for a p2m tree.
     */
    void checkP2mGeneration(String domain) throws HypervisorException {
        if (linear && word(gw, shinfo, generationOffset) != p2mGeneration) {
            throw new HypervisorException("pv.p2m", domain, "the guest changed its linear p2m (arch.p2m_generation 0x"
                    + Long.toHexString(p2mGeneration) + " -> 0x" + Long.toHexString(word(gw, shinfo, generationOffset))
                    + ") during the migration");
        }
    }

    private static MemorySegment map(ForeignMemory fmem, int domid, long pages, MemorySegment frames, MemorySegment errs,
                                     List<Mapped> mapped, String op, String domain, String what) throws HypervisorException {
        if (pages < 1 || pages > MAX_PAGES_PER_MAP) {
            throw new HypervisorException(op, domain, "the " + what + " needs " + pages + " pages (1.." + MAX_PAGES_PER_MAP + " per map)");
        }
        MemorySegment region = fmem.map(domid, XenLayouts.PROT_READ, pages, frames, errs);
        mapped.add(new Mapped(region, pages));
        for (long i = 0; i < pages; i++) {
            int err = errs.getAtIndex(JAVA_INT, i);
            if (err != 0) {
                throw new HypervisorException(op, domain, "cannot map " + what + ": frame 0x" + Long.toHexString(frames.getAtIndex(JAVA_LONG, i))
                        + " gave errno " + -err + " (" + NativeCalls.strerror(-err) + ")");
            }
        }
        return region;
    }

    private static void unmapLast(ForeignMemory fmem, List<Mapped> mapped, MemorySegment region) throws HypervisorException {
        for (int i = mapped.size() - 1; i >= 0; i--) {
            if (mapped.get(i).region == region) {
                Mapped m = mapped.remove(i);
                fmem.unmap(m.region, m.pages);
                return;
            }
        }
    }

    private static void unmapAll(ForeignMemory fmem, List<Mapped> mapped, Exception cause) {
        for (Mapped m : mapped) {
            try {
                fmem.unmap(m.region, m.pages);
            } catch (HypervisorException | RuntimeException e) {
                if (cause != null) {
                    cause.addSuppressed(e);
                }
            }
        }
        mapped.clear();
    }

    /** A guest word ({@code unsigned long} of width GW) at {@code offset}. */
    static long word(Width gw, MemorySegment s, long offset) {
        return gw == Width.W64 ? s.get(U64, offset) : Integer.toUnsignedLong(s.get(U32, offset));
    }

    /** Entry {@code index} of a GW-sized MFN array, with a 32-bit guest's ~0 widened to the 64-bit invalid value. */
    static long entry(Width gw, MemorySegment s, long index) {
        if (gw == Width.W64) {
            return s.getAtIndex(U64, index);
        }
        int v = s.getAtIndex(U32, index);
        return v == -1 ? -1L : Integer.toUnsignedLong(v);
    }

    private static long checkedMfn(Width gw, MemorySegment s, long x, long maxMfn, String op, String domain, String what)
            throws HypervisorException {
        long mfn = entry(gw, s, x);
        if (mfn == 0 || mfn < 0 || mfn > maxMfn) {
            throw new HypervisorException(op, domain, "bad mfn 0x" + Long.toHexString(mfn) + " at index " + x + " of the " + what);
        }
        return mfn;
    }

    /** The guest's MFN for {@code pfn}, or -1 when its p2m entry is invalid (a hole, ballooned out). */
    long pfnToMfn(long pfn) {
        if (pfn < 0 || pfn >= p2mSize) {
            return -1;
        }
        long frame = pfn / fpp;
        MemorySegment region = p2mRegions[(int) (frame / MAX_PAGES_PER_MAP)];
        long index = (frame % MAX_PAGES_PER_MAP) * fpp + pfn % fpp;
        long mfn = entry(gw, region, index);
        return mfn < 0 || mfn > maxMfn ? -1 : mfn;
    }

    /** The PFN of {@code mfn} when the MFN belongs to the guest (M2P and p2m agree), else -1. */
    long mfnToPfn(long mfn) {
        if (mfn < 0 || mfn > maxMfn) {
            return -1;
        }
        int chunk = (int) (mfn / M2P_ENTRIES_PER_CHUNK);
        if (chunk >= m2pChunks.length) {
            return -1;
        }
        long pfn = m2pChunks[chunk].getAtIndex(U64, mfn % M2P_ENTRIES_PER_CHUNK);
        if (pfn < 0 || pfn >= p2mSize || pfnToMfn(pfn) != mfn) {
            return -1;
        }
        return pfn;
    }

    /** The live shared-info page (read-only). */
    MemorySegment sharedInfo() {
        return shinfo;
    }

    /** The PFNs of the p2m frames, in order (the stream's p2m frame list). */
    long[] framePfns() {
        return framePfns.clone();
    }

    @Override
    public void close() {
        HypervisorException first = new HypervisorException("pv.unmap", null, "unmapping the PV views failed");
        unmapAll(fmem, mappings, first);
        if (first.getSuppressed().length > 0) {
            LOG.warn("event=pv_unmap_failed backend=xen error=\"{}\"", first.getSuppressed()[0].getMessage());
        }
    }
}
