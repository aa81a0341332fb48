package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The stream's PV canonicalisation rules (docs/wire-format-legacy.md §5.3 page tables, §8.1 vCPU contexts) as pure
 * functions over segments, with frame translation passed in: the source turns machine frames into PFNs,
 * the restore turns PFNs into the new domain's machine frames. No state; safe for concurrent use.
 *
 * <p>Page tables of PAE (GW=4) and 64-bit guests hold 512 little-endian 64-bit PTEs. Only present PTEs
 * (bit 0) are rewritten; flags are kept.
 */
final class PvCanonical {

    private PvCanonical() {
    }

    static final ValueLayout.OfLong PTE = JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static final int PTES_PER_PAGE = StreamLimits.PAGE_SIZE / 8;
    static final long PAGE_PRESENT = 0x1;
    static final long PAGE_RW = 0x2;
    static final long PAGE_USER = 0x4;
    static final long PAGE_ACCESSED = 0x20;
    static final long PAGE_PSE = 0x80;
    /** Frame bits of a PTE: 12..51 for a 64-bit guest, 12..43 for a PAE guest (§5.3). */
    static final long FRAME_MASK_64 = 0x000F_FFFF_FFFF_F000L;
    static final long FRAME_MASK_PAE = 0x0000_0FFF_FFFF_F000L;
    /** 64-bit L4 slots reserved for Xen (HYPERVISOR_VIRT_START..END of x86_64), written as 0. */
    static final int L4_XEN_FIRST = 256;
    static final int L4_XEN_LAST = 271;
    /** PAE L3: only entries 0..3 belong to the guest. */
    static final int PAE_L3_GUEST_ENTRIES = 4;
    /** {@code HYPERVISOR_VIRT_START} of a compat (PAE) guest: 0xF5800000; its L2 index is where Xen's hole starts. */
    static final long PAE_HVIRT_START = 0xF580_0000L;
    static final int PAE_L2_XEN_FIRST = (int) ((PAE_HVIRT_START >>> 21) & 0x1FF);
    /** {@code FIRST_RESERVED_GDT_ENTRY}: the most GDT entries a PV guest may have (§8.1). */
    static final int MAX_GDT_ENTRIES = 8192;
    static final int GDT_ENTRIES_PER_FRAME = 512;

    /** A frame translation; returns -1 when the frame has no image (foreign MFN, or PFN without memory). */
    @FunctionalInterface
    interface Translator {
        long apply(long frame) throws HypervisorException;
    }

    static long frameMask(Width gw) {
        return gw == Width.W64 ? FRAME_MASK_64 : FRAME_MASK_PAE;
    }

    /** The guest's top page-table level: 4 for 64-bit, 3 for PAE. */
    static int topLevel(Width gw) {
        return gw == Width.W64 ? 4 : 3;
    }

    /**
     * Source side: writes the canonical form of the page table {@code src} (machine frames) into {@code dst}
     * (PFNs). A present PTE whose frame is not the guest's becomes PFN 0 while the guest runs (the table is
     * being changed and will be sent again) and is an error once it is paused.
     *
     * @param compatM2pMfn0 first frame of Xen's compat M2P (PAE guests; -1 for 64-bit guests)
     */
    static void canonicalisePageTable(MemorySegment src, MemorySegment dst, PageType type, Width gw,
                                      Translator mfnToPfn, long compatM2pMfn0, boolean live, String domain)
            throws HypervisorException {
        int level = type.level();
        int xenFirst = PTES_PER_PAGE;
        int xenLast = -1;
        if (gw == Width.W64) {
            if (level == 4) {
                xenFirst = L4_XEN_FIRST;
                xenLast = L4_XEN_LAST;
            }
        } else {
            switch (level) {
                case 4 -> throw new HypervisorException("memory.mapForRead", domain, "an L4 page table in a 32-bit (PAE) guest");
                case 3 -> {
                    xenFirst = PAE_L3_GUEST_ENTRIES;
                    xenLast = PTES_PER_PAGE - 1;
                }
                case 2 -> {
                    long hole = src.getAtIndex(PTE, PAE_L2_XEN_FIRST);
                    if (compatM2pMfn0 >= 0 && (hole & FRAME_MASK_PAE) >>> 12 == compatM2pMfn0) {
                        xenFirst = PAE_L2_XEN_FIRST;
                        xenLast = PTES_PER_PAGE - 1;
                    }
                }
                default -> {
                }
            }
        }
        long mask = frameMask(gw);
        for (int i = 0; i < PTES_PER_PAGE; i++) {
            long pte = i >= xenFirst && i <= xenLast ? 0 : src.getAtIndex(PTE, i);
            if (gw == Width.W32 && level == 3 && i < PAE_L3_GUEST_ENTRIES) {
                pte &= ~(PAGE_USER | PAGE_RW | PAGE_ACCESSED);
            }
            if ((pte & PAGE_PRESENT) != 0) {
                if (level > 1 && (pte & PAGE_PSE) != 0) {
                    throw new HypervisorException("memory.mapForRead", domain, "L" + level + "[" + i + "] = 0x"
                            + Long.toHexString(pte) + " maps a superpage, which a PV migration cannot carry");
                }
                long mfn = (pte & mask) >>> 12;
                long pfn = mfnToPfn.apply(mfn);
                if (pfn < 0) {
                    if (!live) {
                        throw new HypervisorException("memory.mapForRead", domain, "L" + level + "[" + i + "] maps mfn 0x"
                                + Long.toHexString(mfn) + ", which is not the guest's, while the guest is paused");
                    }
                    pfn = 0; // a table changing under us: it is dirty and will be sent again (§5.3)
                }
                pte = (pte & ~mask) | (pfn << 12);
            }
            dst.setAtIndex(PTE, i, pte);
        }
    }

    /**
     * Restore side: writes {@code src} (PFNs) into {@code dst} with every present PTE's frame turned into
     * the new domain's machine frame; {@code pfnToMfn} allocates memory for PFNs not seen yet.
     */
    static void uncanonicalisePageTable(MemorySegment src, MemorySegment dst, PageType type, Width gw, long p2mSize,
                                        Translator pfnToMfn, String domain) throws HypervisorException {
        if (gw == Width.W32 && type.level() == 4) {
            throw new HypervisorException("memory.writePage", domain, "an L4 page table for a 32-bit (PAE) guest");
        }
        long mask = frameMask(gw);
        for (int i = 0; i < PTES_PER_PAGE; i++) {
            long pte = src.getAtIndex(PTE, i);
            if ((pte & PAGE_PRESENT) != 0) {
                long pfn = (pte & mask) >>> 12;
                if (pfn >= p2mSize) {
                    throw new HypervisorException("memory.writePage", domain, "L" + type.level() + "[" + i + "] maps pfn 0x"
                            + Long.toHexString(pfn) + ", outside the p2m of " + p2mSize + " PFNs");
                }
                long mfn = pfnToMfn.apply(pfn);
                if (mfn < 0) {
                    throw new HypervisorException("memory.writePage", domain, "L" + type.level() + "[" + i + "] maps pfn 0x"
                            + Long.toHexString(pfn) + ", which has no memory");
                }
                pte = (pte & ~mask) | (mfn << 12);
            }
            dst.setAtIndex(PTE, i, pte);
        }
    }

    // ---- vCPU contexts (§8.1) -------------------------------------------------------------------------------

    /** Offsets of the fields the canonicalisation touches, for one guest width. */
    record VcpuOffsets(Width gw, int size, long flags, long edx, long gdtFrames, long gdtEnts, long ctrlreg) {
        static VcpuOffsets of(Width gw) {
            if (gw == Width.W64) {
                var l = XenLayouts.VCPU_GUEST_CONTEXT_X86_64;
                return new VcpuOffsets(gw, (int) l.byteSize(), XenLayouts.offset(l, "flags"), XenLayouts.offset(l, "user_regs", "rdx"),
                        XenLayouts.offset(l, "gdt_frames"), XenLayouts.offset(l, "gdt_ents"), XenLayouts.offset(l, "ctrlreg"));
            }
            var l = XenLayouts.VCPU_GUEST_CONTEXT_X86_32;
            return new VcpuOffsets(gw, (int) l.byteSize(), XenLayouts.offset(l, "flags"), XenLayouts.offset(l, "user_regs", "edx"),
                    XenLayouts.offset(l, "gdt_frames"), XenLayouts.offset(l, "gdt_ents"), XenLayouts.offset(l, "ctrlreg"));
        }

        long word(MemorySegment s, long off) {
            return gw == Width.W64 ? s.get(PTE, off) : Integer.toUnsignedLong(s.get(U32, off));
        }

        void setWord(MemorySegment s, long off, long v) {
            if (gw == Width.W64) {
                s.set(PTE, off, v);
            } else {
                s.set(U32, off, (int) v);
            }
        }

        long gdtFrame(int j) {
            return gdtFrames + (long) j * gw.bytes();
        }

        long cr(int n) {
            return ctrlreg + (long) n * gw.bytes();
        }
    }

    /** {@code cr3} → frame: 64-bit {@code cr3 >> 12}; PAE "extended cr3" {@code (v >> 12) | (v << 20)} in 32 bits. */
    static long cr3ToFrame(Width gw, long cr3) {
        return gw == Width.W64 ? cr3 >>> 12 : ((cr3 >>> 12) | (cr3 << 20)) & 0xFFFF_FFFFL;
    }

    /** frame → {@code cr3}, the inverse of {@link #cr3ToFrame}; -1 when a PAE guest cannot hold the frame. */
    static long frameToCr3(Width gw, long frame) {
        if (gw == Width.W64) {
            return frame << 12;
        }
        if ((frame & ~0xFFFF_FFFFL) != 0) {
            return -1;
        }
        return ((frame << 12) | (frame >>> 20)) & 0xFFFF_FFFFL;
    }

    /** How many GDT frames a context uses, after checking {@code gdt_ents}. */
    static int gdtFrames(VcpuOffsets o, MemorySegment ctx, String operation, String domain, int vcpu) throws HypervisorException {
        long ents = o.word(ctx, o.gdtEnts);
        if (ents > MAX_GDT_ENTRIES) {
            throw new HypervisorException(operation, domain, "vcpu" + vcpu + " has " + ents + " GDT entries (at most " + MAX_GDT_ENTRIES + ")");
        }
        return (int) ((ents + GDT_ENTRIES_PER_FRAME - 1) / GDT_ENTRIES_PER_FRAME);
    }

    /**
     * Source side, in place on a context of {@code o.size()} bytes: vcpu0's start_info frame (rdx/edx), the
     * GDT frames, cr3 (PAE folding) and a 64-bit guest's non-zero cr1 become PFNs; cr1 gets bit 0 ("valid
     * PFN"). Every frame must be the guest's.
     */
    static void canonicaliseVcpu(MemorySegment ctx, int vcpu, VcpuOffsets o, Translator mfnToPfn, String domain)
            throws HypervisorException {
        String op = "platform.pvVcpuContext";
        if (vcpu == 0) {
            long mfn = o.word(ctx, o.edx);
            o.setWord(ctx, o.edx, strict(mfnToPfn, mfn, op, domain, "vcpu0's start_info (rdx/edx)"));
        }
        int frames = gdtFrames(o, ctx, op, domain, vcpu);
        for (int j = 0; j < frames; j++) {
            long mfn = o.word(ctx, o.gdtFrame(j));
            o.setWord(ctx, o.gdtFrame(j), strict(mfnToPfn, mfn, op, domain, "vcpu" + vcpu + "'s GDT frame " + j));
        }
        long cr3Mfn = cr3ToFrame(o.gw, o.word(ctx, o.cr(3)));
        long cr3Pfn = strict(mfnToPfn, cr3Mfn, op, domain, "vcpu" + vcpu + "'s cr3");
        o.setWord(ctx, o.cr(3), frameToCr3(o.gw, cr3Pfn));
        if (o.gw == Width.W64) {
            long cr1 = o.word(ctx, o.cr(1));
            if (cr1 != 0) {
                long pfn = strict(mfnToPfn, cr1 >>> 12, op, domain, "vcpu" + vcpu + "'s cr1");
                o.setWord(ctx, o.cr(1), (pfn << 12) | 1);
            }
        }
    }

    /** What the restore side needs to know of a PFN: its type nibble, or -1 when the stream never gave it. */
    @FunctionalInterface
    interface TypeOf {
        int nibble(long pfn);
    }

    /**
     * Restore side, in place: the reverse of {@link #canonicaliseVcpu}, with the receiver's checks of §8.1
     * (start_info and GDT frames NOTAB pages, cr3/cr1 the guest's top-level table), and {@code VGCF_online}
     * set. Returns vcpu0's start_info PFN (or -1 for other vCPUs) so that the caller can patch start_info.
     */
    static long uncanonicaliseVcpu(MemorySegment ctx, int vcpu, VcpuOffsets o, long p2mSize, TypeOf types,
                                   Translator pfnToMfn, String domain) throws HypervisorException {
        String op = "platform.setPvVcpuContext";
        long startInfoPfn = -1;
        if (vcpu == 0) {
            startInfoPfn = o.word(ctx, o.edx);
            checkPfn(startInfoPfn, p2mSize, types, 0, op, domain, "vcpu0's start_info");
            o.setWord(ctx, o.edx, present(pfnToMfn, startInfoPfn, op, domain, "vcpu0's start_info"));
        }
        o.setWord(ctx, o.flags, o.word(ctx, o.flags) | XenLayouts.VGCF_ONLINE);
        int frames = gdtFrames(o, ctx, op, domain, vcpu);
        for (int j = 0; j < frames; j++) {
            long pfn = o.word(ctx, o.gdtFrame(j));
            String what = "vcpu" + vcpu + "'s GDT frame " + j;
            checkPfn(pfn, p2mSize, types, 0, op, domain, what);
            o.setWord(ctx, o.gdtFrame(j), present(pfnToMfn, pfn, op, domain, what));
        }
        int top = topLevel(o.gw);
        long cr3Pfn = cr3ToFrame(o.gw, o.word(ctx, o.cr(3)));
        checkPfn(cr3Pfn, p2mSize, types, top, op, domain, "vcpu" + vcpu + "'s cr3");
        long cr3 = frameToCr3(o.gw, present(pfnToMfn, cr3Pfn, op, domain, "vcpu" + vcpu + "'s cr3"));
        if (cr3 < 0) {
            throw new HypervisorException(op, domain, "vcpu" + vcpu + "'s cr3 frame does not fit a PAE guest's extended cr3");
        }
        o.setWord(ctx, o.cr(3), cr3);
        if (o.gw == Width.W64) {
            long cr1 = o.word(ctx, o.cr(1));
            if ((cr1 & 1) != 0) {
                long pfn = cr1 >>> 12;
                checkPfn(pfn, p2mSize, types, top, op, domain, "vcpu" + vcpu + "'s cr1");
                o.setWord(ctx, o.cr(1), present(pfnToMfn, pfn, op, domain, "vcpu" + vcpu + "'s cr1") << 12);
            }
        }
        return startInfoPfn;
    }

    /** Checks that {@code pfn} is inside the p2m and has level {@code level} (0: a NOTAB page). */
    static void checkPfn(long pfn, long p2mSize, TypeOf types, int level, String op, String domain, String what)
            throws HypervisorException {
        if (pfn < 0 || pfn >= p2mSize) {
            throw new HypervisorException(op, domain, what + " is pfn 0x" + Long.toHexString(pfn) + ", outside the p2m of " + p2mSize + " PFNs");
        }
        int nibble = types.nibble(pfn);
        boolean ok = level == 0 ? nibble == PageType.NOTAB.nibble() : nibble >= 0 && (nibble & 0x7) == level;
        if (!ok) {
            throw new HypervisorException(op, domain, what + " is pfn 0x" + Long.toHexString(pfn) + " of type "
                    + (nibble < 0 ? "never sent" : "0x" + Integer.toHexString(nibble)) + ", expected "
                    + (level == 0 ? "NOTAB" : "an L" + level + " table"));
        }
    }

    private static long strict(Translator t, long frame, String op, String domain, String what) throws HypervisorException {
        long r = t.apply(frame);
        if (r < 0) {
            throw new HypervisorException(op, domain, what + " is mfn 0x" + Long.toHexString(frame) + ", which is not in the guest's p2m");
        }
        return r;
    }

    private static long present(Translator t, long pfn, String op, String domain, String what) throws HypervisorException {
        long r = t.apply(pfn);
        if (r < 0) {
            throw new HypervisorException(op, domain, what + " is pfn 0x" + Long.toHexString(pfn) + ", which has no memory");
        }
        return r;
    }
}
