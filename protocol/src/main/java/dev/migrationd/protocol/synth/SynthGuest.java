package dev.migrationd.protocol.synth;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmContext;
import dev.migrationd.protocol.x86.PvExtVcpuContext;
import dev.migrationd.protocol.x86.PvVcpuContext;
import dev.migrationd.protocol.x86.SharedInfo;
import dev.migrationd.protocol.x86.TscInfo;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * The synthetic guest a stream describes, independent of the stream format: which PFNs exist and their
 * types, what each page holds at each checkpoint, and the vCPU/platform state. Everything is a pure
 * function of {@link SynthOptions}, so every emitter (legacy, v2) and every test sees the same guest.
 *
 * <p>PV layout (PFNs): 0 top-level table (pinned), 1 L3 (64-bit only), then one L2, then the L1s
 * mapping PFN 0 upwards (up to {@value #MAX_L1}, every other one pinned), start_info, data, and the p2m
 * pages at the top. HVM layout: data with the VGA hole 0xA0–0xBF left out, the magic pages (console,
 * store, bufioreq, ioreq) at the top.
 *
 * <p>Page contents: random from the seed in checkpoint 0; a page dirtied in a later checkpoint has a few
 * (1..{@value #DIRTY_WORDS_MAX}) of its words rewritten, so checkpoint compression has deltas to find.
 *
 * <p>Immutable; safe to share.
 */
public final class SynthGuest {
    /** Most L1 tables a PV guest gets (each maps 2 MiB). */
    public static final int MAX_L1 = 4;
    /** Machine frame numbers are PFN + this in raw (uncanonicalised) structures. */
    public static final long MFN_BASE = 0x80000;
    /** Present | RW | USER | ACCESSED | DIRTY. */
    static final long PTE_FLAGS = 0x67;
    /** Present only: what a canonicalised PAE L3 entry keeps. */
    static final long PAE_L3_FLAGS = 0x1;
    /** HVM VGA hole (not populated). */
    public static final long VGA_HOLE_START = 0xA0;
    public static final long VGA_HOLE_END = 0xC0;
    /** One in this many pages is dirtied in each later checkpoint. */
    static final int DIRTY_ONE_IN = 16;
    /** A dirtied page has 1..this many of its 512 words rewritten. */
    static final int DIRTY_WORDS_MAX = 32;
    static final long TSC_KHZ = 2_400_000;
    static final long HVM_IDENT_PT = 0xFEFF_D000L;
    static final long HVM_VM86_TSS = 0xFEFF_E000L;
    static final long HVM_GENERATION_ID_ADDR = 0xFC00_1000L;

    private final SynthOptions o;
    private final long p2mSize;
    private final Width gw;
    // PV
    private final int levels;
    private final long topPfn;
    private final long l3Pfn;
    private final long l2Pfn;
    private final long firstL1;
    private final int nL1;
    private final long startInfoPfn;
    private final long[] p2mFrames;
    // HVM
    private final long ioreqPfn;
    private final long bufioreqPfn;
    private final long storePfn;
    private final long consolePfn;

    public SynthGuest(SynthOptions o) {
        this.o = o;
        this.p2mSize = o.pages();
        this.gw = o.guest() == GuestType.PV ? o.guestWidth() : Width.W64;
        if (o.guest() == GuestType.PV) {
            levels = gw == Width.W64 ? 4 : 3;
            long next = 0;
            topPfn = next++;
            l3Pfn = levels == 4 ? next++ : -1;
            l2Pfn = next++;
            firstL1 = next;
            nL1 = (int) Math.min(MAX_L1, (p2mSize + 511) / 512);
            next += nL1;
            startInfoPfn = next;
            int fpp = StreamLimits.PAGE_SIZE / gw.bytes();
            int n = (int) ((p2mSize + fpp - 1) / fpp);
            p2mFrames = new long[n];
            for (int i = 0; i < n; i++) {
                p2mFrames[i] = p2mSize - n + i;
            }
            if (p2mFrames[0] <= startInfoPfn) {
                throw new IllegalArgumentException("too few pages for the PV layout");
            }
            ioreqPfn = bufioreqPfn = storePfn = consolePfn = -1;
        } else {
            levels = 0;
            topPfn = l3Pfn = l2Pfn = firstL1 = startInfoPfn = -1;
            nL1 = 0;
            p2mFrames = new long[0];
            ioreqPfn = p2mSize - 1;
            bufioreqPfn = p2mSize - 2;
            storePfn = p2mSize - 3;
            consolePfn = p2mSize - 4;
        }
    }

    public SynthOptions options() {
        return o;
    }

    public long p2mSize() {
        return p2mSize;
    }

    public Width guestWidth() {
        return gw;
    }

    public GuestType guestType() {
        return o.guest();
    }

    /** PFNs of the pages holding the guest's p2m (PV; empty for HVM). */
    public long[] p2mFrames() {
        return p2mFrames.clone();
    }

    public long startInfoPfn() {
        return startInfoPfn;
    }

    public long topTablePfn() {
        return topPfn;
    }

    public long ioreqPfn() {
        return ioreqPfn;
    }

    public long bufioreqPfn() {
        return bufioreqPfn;
    }

    public long storePfn() {
        return storePfn;
    }

    public long consolePfn() {
        return consolePfn;
    }

    /** Whether PFN exists with memory (HVM: outside the VGA hole; the magic pages at the top always). */
    public boolean populated(long pfn) {
        if (pfn < 0 || pfn >= p2mSize) {
            return false;
        }
        return o.guest() == GuestType.PV || pfn < VGA_HOLE_START || pfn >= VGA_HOLE_END || pfn >= consolePfn;
    }

    /** The page type of a populated PFN. */
    public PageType typeOf(long pfn) {
        if (o.guest() == GuestType.HVM) {
            return PageType.NOTAB;
        }
        if (pfn == topPfn) {
            return levels == 4 ? PageType.L4TAB_PINNED : PageType.L3TAB_PINNED;
        }
        if (pfn == l3Pfn) {
            return PageType.L3TAB;
        }
        if (pfn == l2Pfn) {
            return PageType.L2TAB;
        }
        if (pfn >= firstL1 && pfn < firstL1 + nL1) {
            return (pfn - firstL1) % 2 == 0 ? PageType.L1TAB_PINNED : PageType.L1TAB;
        }
        return PageType.NOTAB;
    }

    /**
     * Whether {@code pfn} is sent in checkpoint {@code k}: every populated PFN in checkpoint 0; in later ones
     * about three quarters of a hot set of one data page in {@value #DIRTY_ONE_IN} (both chosen from the seed),
     * and always the first data page so no checkpoint is empty.
     */
    public boolean sentIn(long pfn, int k) {
        if (!populated(pfn)) {
            return false;
        }
        if (k == 0) {
            return true;
        }
        if (typeOf(pfn) != PageType.NOTAB || isSpecial(pfn)) {
            return false;
        }
        if (pfn == firstDataPfn()) {
            return true;
        }
        // a hot working set (one page in DIRTY_ONE_IN, fixed by the seed), three quarters of it dirty each time
        return mix(o.seed(), pfn, 0, 0x407) % DIRTY_ONE_IN == 0 && mix(o.seed(), pfn, k, 0x5EED) % 4 != 0;
    }

    /** The first ordinary data page (dirtied in every checkpoint). */
    public long firstDataPfn() {
        return o.guest() == GuestType.PV ? startInfoPfn + 1 : 0;
    }

    private boolean isSpecial(long pfn) {
        if (o.guest() == GuestType.PV) {
            if (pfn == startInfoPfn) {
                return true;
            }
            return p2mFrames.length > 0 && pfn >= p2mFrames[0];
        }
        return pfn >= consolePfn;
    }

    /** Fills {@code dst} (4096 bytes from its position, position unchanged) with the page as of checkpoint k. */
    public void fillPage(long pfn, int k, ByteBuffer dst) {
        ByteBuffer b = dst.slice(dst.position(), StreamLimits.PAGE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        PageType t = typeOf(pfn);
        if (t.isPageTable()) {
            fillTable(pfn, t, b);
            return;
        }
        if (o.guest() == GuestType.PV && p2mFrames.length > 0 && pfn >= p2mFrames[0]) {
            fillP2m(pfn, b);
            return;
        }
        if (pfn == startInfoPfn || o.guest() == GuestType.HVM && pfn >= consolePfn) {
            for (int i = 0; i < StreamLimits.PAGE_SIZE; i += 8) {
                b.putLong(i, 0);
            }
            if (pfn == startInfoPfn) {
                b.put(0, "xen-3.0-x86_".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                b.putLong(32, p2mSize); // nr_pages
            }
            return;
        }
        SplittableRandom r = new SplittableRandom(mix(o.seed(), pfn, 0, 0xDA7A));
        for (int i = 0; i < StreamLimits.PAGE_SIZE; i += 8) {
            b.putLong(i, r.nextLong());
        }
        // each later checkpoint that dirtied the page rewrote a few words of it, as a running guest does
        for (int j = 1; j <= k; j++) {
            if (sentIn(pfn, j)) {
                SplittableRandom w = new SplittableRandom(mix(o.seed(), pfn, j, 0xD1E7));
                int words = 1 + w.nextInt(DIRTY_WORDS_MAX);
                for (int n = 0; n < words; n++) {
                    b.putLong(8 * w.nextInt(StreamLimits.PAGE_SIZE / 8), w.nextLong());
                }
            }
        }
    }

    /** A fresh 4096-byte page. */
    public ByteBuffer page(long pfn, int k) {
        ByteBuffer b = ByteBuffer.allocate(StreamLimits.PAGE_SIZE);
        fillPage(pfn, k, b);
        return b;
    }

    private void fillTable(long pfn, PageType t, ByteBuffer b) {
        for (int i = 0; i < StreamLimits.PAGE_SIZE; i += 8) {
            b.putLong(i, 0);
        }
        int level = t.level();
        if (level == levels) { // top level: entry 0 → next level down
            long next = levels == 4 ? l3Pfn : l2Pfn;
            b.putLong(0, (next << 12) | (levels == 3 ? PAE_L3_FLAGS : PTE_FLAGS));
        } else if (level == 3) {
            b.putLong(0, (l2Pfn << 12) | PTE_FLAGS);
        } else if (level == 2) {
            for (int i = 0; i < nL1; i++) {
                b.putLong(8 * i, ((firstL1 + i) << 12) | PTE_FLAGS);
            }
        } else {
            long base = (pfn - firstL1) * 512;
            for (int i = 0; i < 512 && base + i < p2mSize; i++) {
                b.putLong(8 * i, ((base + i) << 12) | PTE_FLAGS);
            }
        }
    }

    private void fillP2m(long pfn, ByteBuffer b) {
        int fpp = StreamLimits.PAGE_SIZE / gw.bytes();
        long first = (pfn - p2mFrames[0]) * fpp;
        for (int i = 0; i < fpp; i++) {
            long p = first + i;
            long mfn = p < p2mSize ? p + MFN_BASE : (gw == Width.W64 ? -1L : 0xFFFF_FFFFL);
            if (gw == Width.W64) {
                b.putLong(8 * i, mfn);
            } else {
                b.putInt(4 * i, (int) mfn);
            }
        }
    }

    // ---------------------------------------------------------------- vCPU and platform state

    /** The canonicalised vCPU context of the PV tail (PFNs, not MFNs). */
    public byte[] pvVcpuContext(int vcpu) {
        return pvContext(vcpu, 0).toByteArray();
    }

    /** vcpu0's raw context as the "vcpu" extended-info block carries it (machine frame numbers). */
    public byte[] pvRawVcpu0Context() {
        return pvContext(0, MFN_BASE).toByteArray();
    }

    private PvVcpuContext pvContext(int vcpu, long frameBase) {
        PvVcpuContext c = PvVcpuContext.resetState(gw);
        boolean w64 = gw == Width.W64;
        long kernel = w64 ? 0xFFFF_FFFF_8100_0000L : 0xC010_0000L;
        c.setRip(kernel + 0x1000L * vcpu);
        long sp = (w64 ? 0xFFFF_FFFF_8200_0000L : 0xC020_0000L) - 0x2000L * vcpu;
        c.setRsp(sp);
        c.setKernelSp(sp);
        c.setCr3Pfn(topPfn + frameBase);
        c.setEventCallbackEip(kernel + 0x100);
        c.setFailsafeCallbackEip(kernel + 0x200);
        if (w64) {
            c.setSyscallCallbackEip(kernel + 0x300);
        } else {
            c.setEventCallbackCs(PvVcpuContext.FLAT_KERNEL_CS32);
            c.setFailsafeCallbackCs(PvVcpuContext.FLAT_KERNEL_CS32);
        }
        if (vcpu == 0) {
            c.setRdx(startInfoPfn + frameBase);
        }
        return c;
    }

    public byte[] pvExtContext(int vcpu) {
        return PvExtVcpuContext.resetState(vcpu).toByteArray();
    }

    public XsaveRecord pvXsave() {
        return XsaveRecord.resetState();
    }

    public byte[] sharedInfo() {
        return SharedInfo.savedState(gw, Math.min(o.vcpus(), SharedInfo.LEGACY_MAX_VCPUS), p2mSize).toByteArray();
    }

    public byte[] hvmContext() {
        HvmContext.Builder b = HvmContext.builder(new HvmContext.Header(HvmContext.CHANGESET_UNKNOWN,
                HvmContext.Header.DEFAULT.cpuid(), (int) TSC_KHZ));
        HvmContext reset = HvmContext.resetState(o.vcpus());
        for (HvmContext.Entry e : reset.entries()) {
            b.add(e.type(), e.instance(), e.body());
        }
        return b.build().encode();
    }

    /** The guest's TSC state: default mode, a seeded elapsed time, {@link #TSC_KHZ}, first incarnation. */
    public TscInfo tsc() {
        return new TscInfo(0, 1_000_000_000L + Math.floorMod(mix(o.seed(), 0, 0, 0x75C), 1_000_000_000_000L),
                (int) TSC_KHZ, 1);
    }

    /** SplitMix64-style mixing of the seed with coordinates. */
    static long mix(long seed, long a, long b, long salt) {
        long z = seed * 0x9E3779B97F4A7C15L + a * 0xBF58476D1CE4E5B9L + b * 0x94D049BB133111EBL + salt;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }
}
