package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import dev.migrationd.hypervisor.HypervisorException;
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
 * A running PV guest's frame translation, as a save needs it (legacy-stream.md §3.2, §5.3): Xen's M2P
 * (MFN→PFN, mapped from {@code DOMID_XEN} in its 2 MiB chunks), the guest's shared-info page, and the
 * guest's own p2m (PFN→MFN) found through {@code shared_info.arch.pfn_to_mfn_frame_list_list} → frame
 * list → p2m frames. All mappings are live views of guest and Xen memory, read-only, held until
 * {@link #close()}.
 *
 * <p>Only the three-level frame-list tree is followed; a guest that publishes only a virtually mapped
 * linear p2m ({@code arch.p2m_cr3}) is refused with a message saying so.
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

    private record Mapped(MemorySegment region, long pages) {
    }

    private PvSource(Width gw, long p2mSize, long maxMfn, long compatM2pMfn0, ForeignMemory fmem, List<Mapped> mappings,
                     MemorySegment[] m2pChunks, MemorySegment shinfo, MemorySegment[] p2mRegions, long[] framePfns) {
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
            // p2m tree
            int w = gw.bytes();
            int fpp = PAGE / w;
            long maxPfn = p2mSize - 1;
            long fllEntries = maxPfn / ((long) fpp * fpp) + 1;
            long flEntries = maxPfn / fpp + 1;
            if (fllEntries > fpp) {
                throw new HypervisorException(op, d.name, "p2m of " + p2mSize + " PFNs is too large for a p2m tree");
            }
            var arch = gw == Width.W64 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32;
            long fllMfn = word(gw, shinfo, XenLayouts.offset(arch, "arch", "pfn_to_mfn_frame_list_list"));
            if (fllMfn == 0 || fllMfn > maxMfn) {
                long p2mCr3 = word(gw, shinfo, XenLayouts.offset(arch, "arch", "p2m_cr3"));
                throw new HypervisorException(op, d.name, p2mCr3 != 0
                        ? "the guest publishes only a virtually mapped p2m list (arch.p2m_cr3), which this backend does not walk yet"
                        : "shared_info.arch.pfn_to_mfn_frame_list_list is mfn 0x" + Long.toHexString(fllMfn) + ", not a frame of this host");
            }
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
            int regions = (int) ((flEntries + MAX_PAGES_PER_MAP - 1) / MAX_PAGES_PER_MAP);
            MemorySegment[] p2m = new MemorySegment[regions];
            MemorySegment leaves = a.allocate(JAVA_LONG, MAX_PAGES_PER_MAP);
            for (int r = 0; r < regions; r++) {
                int n = (int) Math.min(MAX_PAGES_PER_MAP, flEntries - (long) r * MAX_PAGES_PER_MAP);
                MemorySegment.copy(leafMfns, r * MAX_PAGES_PER_MAP, leaves, JAVA_LONG, 0, n);
                p2m[r] = map(fmem, d.domid, n, leaves, errs, mapped, op, d.name, "p2m frames");
            }
            unmapLast(fmem, mapped, fl);
            unmapLast(fmem, mapped, fll);
            PvSource src = new PvSource(gw, p2mSize, maxMfn, compat, fmem, mapped, m2p, shinfo, p2m, new long[(int) flEntries]);
            for (int x = 0; x < flEntries; x++) {
                long pfn = src.mfnToPfn(leafMfns[x]);
                if (pfn < 0) {
                    throw new HypervisorException(op, d.name, "p2m frame " + x + " (mfn 0x" + Long.toHexString(leafMfns[x])
                            + ") is not a page of the guest");
                }
                src.framePfns[x] = pfn;
            }
            LOG.info("event=pv_source_mapped backend=xen domain={} width={} p2m_size={} p2m_frames={} max_mfn=0x{}",
                    d.name, gw.bits(), p2mSize, flEntries, Long.toHexString(maxMfn));
            return src;
        } catch (HypervisorException | RuntimeException e) {
            unmapAll(fmem, mapped, e);
            throw e;
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
                        + " gave errno " + -err + " (" + XenNative.strerror(-err) + ")");
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
