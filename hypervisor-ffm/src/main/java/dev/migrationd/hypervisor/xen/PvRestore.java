package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The restore of a PV guest into a domain built by {@link XenHypervisor#createForRestore}: the new p2m
 * (PFN→MFN, filled as {@code xc_domain_populate_physmap_exact} hands out machine frames), the type of every
 * PFN the stream gave, and the state that can only be loaded once all pages are in (docs/wire-format-legacy.md §14
 * step 5).
 *
 * <p>When the end-of-restore steps run: the interface has no "restore complete" call, so they run as soon as
 * the three things they need have arrived — the p2m frame list, the shared-info page and vCPU 0's basic
 * context — (in a legacy stream that is the shared-info page at the very end of the tail; in a v2 stream
 * vCPU 0's context) and at the latest in {@link XenDomain#resume()}, before the first unpause. The steps
 * are: pin the pinned page tables (batches of 1024), load every stashed vCPU (uncanonicalised context with
 * start_info patched for vCPU 0, extended context, XSAVE), restore the shared info (§8.3) and write the new
 * p2m into the guest's p2m frames. vCPU state set afterwards (other vCPUs, extended contexts, XSAVE) goes to
 * Xen at once; pages and a second shared info or vCPU 0 context are refused.
 *
 * <p>Any failure in these steps destroys the domain (nothing half-built is left); the first error is the one
 * thrown, later ones are attached to it.
 *
 * <p>Thread-safety: every method is synchronized on this object, which owns the off-heap p2m and type arrays.
 */
final class PvRestore {

    private static final Logger LOG = LoggerFactory.getLogger(PvRestore.class);

    static final int PAGE = StreamLimits.PAGE_SIZE;
    /** {@code MAX_PIN_BATCH}: page tables pinned per {@code xc_mmuext_op} call. */
    static final int MAX_PIN_BATCH = 1024;
    /** Largest XSAVE buffer accepted from a peer (xcr0, xcr0_accum and an area; AMX-sized areas are ~11 KiB). */
    static final int MAX_XSAVE_BYTES = 64 * 1024;
    /** Bytes of the extended vCPU context as the stream carries it (the domctl's union). */
    static final int EXT_CONTEXT_BYTES = XenLayouts.XEN_DOMCTL_UNION_BYTES;
    private static final byte NEVER_SENT = (byte) 0xFF;

    private final XenDomain d;
    final Width gw;
    final long p2mSize;
    private final PvCanonical.VcpuOffsets vcpuOffsets;
    private final Arena arena = Arena.ofShared();
    /** PFN → MFN, -1 for none. */
    private final MemorySegment p2m;
    /** PFN → type nibble as the stream gave it, {@link #NEVER_SENT} otherwise. */
    private final MemorySegment types;
    private long[] frameList;
    private byte[] sharedInfo;
    private final Map<Integer, byte[]> basic = new TreeMap<>();
    private final Map<Integer, byte[]> extended = new TreeMap<>();
    private final Map<Integer, byte[]> xsave = new TreeMap<>();
    private boolean finished;
    private boolean failed;
    private boolean released;

    PvRestore(XenDomain d, Width gw, long p2mSize) {
        this.d = d;
        this.gw = gw;
        this.p2mSize = p2mSize;
        this.vcpuOffsets = PvCanonical.VcpuOffsets.of(gw);
        this.p2m = arena.allocate(JAVA_LONG, p2mSize);
        this.p2m.fill((byte) 0xFF);
        this.types = arena.allocate(p2mSize);
        this.types.fill(NEVER_SENT);
    }

    // ---- pages ----------------------------------------------------------------------------------------------

    synchronized long mfnOf(long pfn) {
        return pfn < 0 || pfn >= p2mSize ? -1 : p2m.getAtIndex(JAVA_LONG, pfn);
    }

    synchronized int typeOf(long pfn) {
        if (pfn < 0 || pfn >= p2mSize) {
            return -1;
        }
        byte t = types.get(JAVA_BYTE, pfn);
        return t == NEVER_SENT ? -1 : t & 0xF;
    }

    private void checkOpen(String op) throws HypervisorException {
        if (failed) {
            throw new HypervisorException(op, d.name, "the restore failed earlier and the domain was destroyed");
        }
        if (released) {
            throw new HypervisorException(op, d.name, "the domain was destroyed");
        }
    }

    private void checkPfn(String op, long pfn) throws HypervisorException {
        if (pfn < 0 || pfn >= p2mSize) {
            throw new HypervisorException(op, d.name, "pfn 0x" + Long.toHexString(pfn) + " outside the p2m of " + p2mSize + " PFNs");
        }
    }

    /** The MFN of {@code pfn}, populating it first (Xen picks the frame and updates its M2P) if it has none. */
    synchronized long ensurePopulated(long pfn) throws HypervisorException {
        long mfn = p2m.getAtIndex(JAVA_LONG, pfn);
        if (mfn >= 0) {
            return mfn;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(JAVA_LONG);
            one.set(JAVA_LONG, 0, pfn);
            d.hv.ctrl.domainPopulatePhysmapExact(d.domid, 1, one);
            mfn = one.get(JAVA_LONG, 0); // for a PV guest Xen writes the machine frame back
        }
        if (mfn < 0) {
            throw new HypervisorException("xc_domain_populate_physmap_exact", d.name, "Xen returned no frame for pfn 0x" + Long.toHexString(pfn));
        }
        p2m.setAtIndex(JAVA_LONG, pfn, mfn);
        return mfn;
    }

    synchronized void writePage(long pfn, PageType type, MemorySegment src) throws HypervisorException {
        String op = "memory.writePage";
        checkOpen(op);
        if (finished) {
            throw new HypervisorException(op, d.name, "page 0x" + Long.toHexString(pfn) + " arrived after the restore was finished"
                    + " (page tables pinned, vCPU 0 loaded)");
        }
        if (!type.hasData()) {
            throw new IllegalArgumentException("writePage takes data-bearing types, not " + type);
        }
        if (src.byteSize() != PAGE) {
            throw new IllegalArgumentException("a page is " + PAGE + " bytes, not " + src.byteSize());
        }
        checkPfn(op, pfn);
        long mfn = ensurePopulated(pfn);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment want = a.allocate(JAVA_LONG);
            want.set(JAVA_LONG, 0, mfn);
            MemorySegment errs = a.allocate(JAVA_INT);
            MemorySegment region = d.hv.fmem.map(d.domid, XenLayouts.PROT_READ | XenLayouts.PROT_WRITE, 1, want, errs);
            try {
                int err = errs.get(JAVA_INT, 0);
                if (err != 0) {
                    throw new HypervisorException(op, d.name, "xenforeignmemory_map of mfn 0x" + Long.toHexString(mfn) + " (pfn 0x"
                            + Long.toHexString(pfn) + ") failed for that page: errno " + -err + " (" + NativeCalls.strerror(-err) + ")");
                }
                if (type.isPageTable()) {
                    PvCanonical.uncanonicalisePageTable(src, region, type, gw, p2mSize, this::ensurePopulated, d.name);
                } else {
                    MemorySegment.copy(src, 0, region, 0, PAGE);
                }
            } finally {
                d.hv.fmem.unmap(region, 1);
            }
        }
        types.set(JAVA_BYTE, pfn, (byte) type.nibble());
    }

    synchronized void populateOnly(long pfn, PageType type) throws HypervisorException {
        String op = "memory.populateOnly";
        checkOpen(op);
        if (finished) {
            throw new HypervisorException(op, d.name, "pfn 0x" + Long.toHexString(pfn) + " arrived after the restore was finished");
        }
        checkPfn(op, pfn);
        switch (type) {
            case XALLOC -> ensurePopulated(pfn);
            case BROKEN -> {
                // a PV guest has no p2m type for it in Xen; the page stays without memory and is never mapped
            }
            case XTAB -> {
                long mfn = p2m.getAtIndex(JAVA_LONG, pfn);
                if (mfn >= 0) {
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment one = a.allocate(JAVA_LONG);
                        one.set(JAVA_LONG, 0, mfn); // a PV guest's reservation is addressed by machine frame
                        d.hv.ctrl.domainDecreaseReservationExact(d.domid, 1, one);
                    }
                    p2m.setAtIndex(JAVA_LONG, pfn, -1L);
                }
            }
            default -> throw new IllegalArgumentException("populateOnly takes XALLOC, BROKEN or XTAB, not " + type);
        }
        types.set(JAVA_BYTE, pfn, (byte) type.nibble());
    }

    // ---- state ----------------------------------------------------------------------------------------------

    synchronized void setP2mFrameList(long[] frames) throws HypervisorException {
        String op = "platform.setP2mFrameList";
        checkOpen(op);
        long fpp = PAGE / gw.bytes();
        long expected = (p2mSize + fpp - 1) / fpp;
        if (frames.length != expected) {
            throw new HypervisorException(op, d.name, "p2m frame list has " + frames.length + " entries, a p2m of " + p2mSize
                    + " PFNs at guest width " + gw.bits() + " needs " + expected);
        }
        if (finished) {
            throw new HypervisorException(op, d.name, "the p2m frame list arrived after the restore was finished");
        }
        for (int i = 0; i < frames.length; i++) {
            if (frames[i] < 0 || frames[i] >= p2mSize) {
                throw new HypervisorException(op, d.name, "p2m frame " + i + " is pfn 0x" + Long.toHexString(frames[i])
                        + ", outside the p2m of " + p2mSize + " PFNs");
            }
        }
        frameList = frames.clone();
        maybeFinish();
    }

    synchronized void setVcpuContext(int vcpu, byte[] context) throws HypervisorException {
        String op = "platform.setPvVcpuContext";
        checkOpen(op);
        checkVcpu(op, vcpu);
        if (context.length != vcpuOffsets.size()) {
            throw new HypervisorException(op, d.name, "vcpu" + vcpu + " context is " + context.length + " bytes, a "
                    + gw.bits() + "-bit guest's is " + vcpuOffsets.size());
        }
        if (finished) {
            if (vcpu == 0 || basic.containsKey(vcpu)) {
                throw new HypervisorException(op, d.name, "vcpu" + vcpu + " context set twice (the restore is finished)");
            }
            basic.put(vcpu, context.clone());
            guarded(() -> loadBasic(vcpu));
            return;
        }
        basic.put(vcpu, context.clone());
        maybeFinish();
    }

    synchronized void setExtendedContext(int vcpu, byte[] context) throws HypervisorException {
        String op = "platform.setPvExtendedContext";
        checkOpen(op);
        checkVcpu(op, vcpu);
        if (context.length == 0 || context.length > EXT_CONTEXT_BYTES) {
            throw new HypervisorException(op, d.name, "vcpu" + vcpu + " extended context is " + context.length + " bytes (1.." + EXT_CONTEXT_BYTES + ")");
        }
        extended.put(vcpu, context.clone());
        if (finished) {
            guarded(() -> loadExtended(vcpu));
        }
    }

    synchronized void setXsave(int vcpu, byte[] buffer) throws HypervisorException {
        String op = "platform.setPvXsave";
        checkOpen(op);
        checkVcpu(op, vcpu);
        if (buffer.length == 0) {
            return; // the vCPU has no XSAVE state
        }
        if (buffer.length < 16 || buffer.length > MAX_XSAVE_BYTES) {
            throw new HypervisorException(op, d.name, "vcpu" + vcpu + " XSAVE record is " + buffer.length + " bytes (16.." + MAX_XSAVE_BYTES + ")");
        }
        xsave.put(vcpu, buffer.clone());
        if (finished) {
            guarded(() -> loadXsave(vcpu));
        }
    }

    synchronized void setSharedInfo(byte[] page) throws HypervisorException {
        String op = "platform.setSharedInfo";
        checkOpen(op);
        if (page.length != PAGE) {
            throw new HypervisorException(op, d.name, "shared info is " + page.length + " bytes, not " + PAGE);
        }
        if (finished) {
            throw new HypervisorException(op, d.name, "shared info set twice (the restore is finished)");
        }
        sharedInfo = page.clone();
        maybeFinish();
    }

    private void checkVcpu(String op, int vcpu) throws HypervisorException {
        int vcpus = d.restoreShape.vcpus();
        if (vcpu < 0 || vcpu >= vcpus) {
            throw new HypervisorException(op, d.name, "vcpu " + vcpu + " outside 0.." + (vcpus - 1));
        }
    }

    /** Whether the end-of-restore steps ran. */
    synchronized boolean finished() {
        return finished;
    }

    private void maybeFinish() throws HypervisorException {
        if (frameList != null && sharedInfo != null && basic.containsKey(0)) {
            finish();
        }
    }

    /** Runs the end-of-restore steps if they have not run; fails naming what is missing. */
    synchronized void finish() throws HypervisorException {
        String op = "restore.finish";
        checkOpen(op);
        if (finished) {
            return;
        }
        StringBuilder missing = new StringBuilder();
        if (frameList == null) {
            missing.append("the p2m frame list");
        }
        if (!basic.containsKey(0)) {
            missing.append(missing.isEmpty() ? "" : ", ").append("vcpu0's context");
        }
        if (sharedInfo == null) {
            missing.append(missing.isEmpty() ? "" : ", ").append("the shared-info page");
        }
        if (!missing.isEmpty()) {
            throw new HypervisorException(op, d.name, "the PV restore is incomplete: " + missing + " never arrived");
        }
        guarded(() -> {
            checkPaeL3Placement();
            int pinned = pinPageTables();
            for (int v : basic.keySet()) {
                loadBasic(v);
                if (extended.containsKey(v)) {
                    loadExtended(v);
                }
                if (xsave.containsKey(v)) {
                    loadXsave(v);
                }
            }
            for (int v : extended.keySet()) {
                if (!basic.containsKey(v)) {
                    loadExtended(v);
                }
            }
            loadSharedInfo();
            writeGuestP2m();
            finished = true;
            LOG.info("event=pv_restore_finished backend=xen domain={} domid={} pinned={} vcpus={}", d.name, d.domid, pinned, basic.size());
        });
    }

    @FunctionalInterface
    private interface Step {
        void run() throws HypervisorException;
    }

    /** Runs {@code step}; on failure destroys the domain and rethrows the first error. */
    private void guarded(Step step) throws HypervisorException {
        try {
            step.run();
        } catch (HypervisorException | RuntimeException e) {
            failed = true;
            d.destroyAfterFailedRestore(e);
            throw e;
        }
    }

    // ---- end-of-restore steps ----------------------------------------------------------------------------

    /** {@code VMASST_TYPE_pae_extended_cr3}: the PAE guest can run with its L3 tables anywhere. */
    static final int VMASST_TYPE_PAE_EXTENDED_CR3 = 3;
    /** Without extended cr3, a PAE guest's L3 tables must sit below 4 GiB: frames below 2^20. */
    static final long PAE_L3_FRAME_LIMIT = 1L << 20;

    /**
     * §14 step 5: a PAE guest without extended cr3 needs its L3 tables below 4 GiB. Moving them is not
     * implemented; such a restore fails here, naming the table, unless every L3 already landed low.
     */
    private void checkPaeL3Placement() throws HypervisorException {
        if (gw != Width.W32) {
            return;
        }
        long vmAssist = Integer.toUnsignedLong(MemorySegment.ofArray(basic.get(0)).get(
                java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, XenLayouts.offset(XenLayouts.VCPU_GUEST_CONTEXT_X86_32, "vm_assist")));
        if ((vmAssist & (1L << VMASST_TYPE_PAE_EXTENDED_CR3)) != 0) {
            return;
        }
        for (long pfn = 0; pfn < p2mSize; pfn++) {
            int nibble = typeOf(pfn);
            if (nibble >= 0 && (nibble & 0x7) == 3 && nibble < PageType.BROKEN.nibble() && mfnOf(pfn) >= PAE_L3_FRAME_LIMIT) {
                throw new HypervisorException("restore.finish", d.name, "the PAE guest runs without extended cr3 and its L3 table pfn 0x"
                        + Long.toHexString(pfn) + " got mfn 0x" + Long.toHexString(mfnOf(pfn))
                        + " above 4 GiB; moving L3 tables below 4 GiB is not implemented by this backend");
            }
        }
    }

    private int pinPageTables() throws HypervisorException {
        var l = XenLayouts.MMUEXT_OP;
        long cmdAt = XenLayouts.offset(l, "cmd");
        long mfnAt = XenLayouts.offset(l, "arg1");
        int total = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ops = a.allocate(l, MAX_PIN_BATCH);
            int n = 0;
            for (long pfn = 0; pfn < p2mSize; pfn++) {
                int nibble = typeOf(pfn);
                if (nibble < 0) {
                    continue;
                }
                PageType t = PageType.fromNibbleOrNull(nibble);
                if (t == null || !t.isPinned()) {
                    continue;
                }
                long mfn = mfnOf(pfn);
                if (mfn < 0) {
                    throw new HypervisorException("restore.pin", d.name, "pinned pfn 0x" + Long.toHexString(pfn) + " has no memory");
                }
                MemorySegment op = ops.asSlice(n * l.byteSize(), l.byteSize());
                op.fill((byte) 0);
                op.set(JAVA_INT, cmdAt, XenLayouts.MMUEXT_PIN_L1_TABLE + t.level() - 1);
                op.set(JAVA_LONG, mfnAt, mfn);
                if (++n == MAX_PIN_BATCH) {
                    d.hv.ctrl.mmuextOp(d.domid, ops, n);
                    total += n;
                    n = 0;
                }
            }
            if (n > 0) {
                d.hv.ctrl.mmuextOp(d.domid, ops.asSlice(0, n * l.byteSize()), n);
                total += n;
            }
        }
        return total;
    }

    private void loadBasic(int vcpu) throws HypervisorException {
        byte[] ctx = basic.get(vcpu);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(XenLayouts.VCPU_GUEST_CONTEXT_ANY);
            buf.fill((byte) 0);
            MemorySegment.copy(ctx, 0, buf, JAVA_BYTE, 0, ctx.length);
            long startInfoPfn = PvCanonical.uncanonicaliseVcpu(buf, vcpu, vcpuOffsets, p2mSize, this::typeOf, this::mfnOf, d.name);
            if (vcpu == 0) {
                patchStartInfo(startInfoPfn);
            }
            d.hv.ctrl.vcpuSetContext(d.domid, vcpu, buf);
        }
    }

    /** §8.1: nr_pages, shared_info, flags and the xenstore/console frames of the new domain. */
    private void patchStartInfo(long pfn) throws HypervisorException {
        String op = "restore.start_info";
        var l = gw == Width.W64 ? XenLayouts.START_INFO_X86_64 : XenLayouts.START_INFO_X86_32;
        long sharedInfoFrame = d.hv.rawInfo(d.domid).orElseThrow(
                () -> new HypervisorException(op, d.name, "the domain vanished")).sharedInfoFrame();
        MemorySegment page = mapOne(mfnOf(pfn), op, "start_info");
        try {
            for (String[] field : new String[][] {{"store_mfn"}, {"console", "domU", "mfn"}}) {
                long at = XenLayouts.offset(l, field);
                long fieldPfn = PvSource.word(gw, page, at);
                String what = String.join(".", field);
                if (fieldPfn >= p2mSize) {
                    throw new HypervisorException(op, d.name, "start_info." + what + " is pfn 0x" + Long.toHexString(fieldPfn)
                            + ", outside the p2m of " + p2mSize + " PFNs");
                }
                long mfn = mfnOf(fieldPfn);
                if (mfn < 0) {
                    throw new HypervisorException(op, d.name, "start_info." + what + " is pfn 0x" + Long.toHexString(fieldPfn) + ", which has no memory");
                }
                setWord(page, at, mfn);
            }
            setWord(page, XenLayouts.offset(l, "nr_pages"), p2mSize);
            setWord(page, XenLayouts.offset(l, "shared_info"), sharedInfoFrame << 12);
            page.set(JAVA_INT, XenLayouts.offset(l, "flags"), 0);
        } finally {
            d.hv.fmem.unmap(page, 1);
        }
    }

    private void setWord(MemorySegment s, long at, long v) {
        if (gw == Width.W64) {
            s.set(PvCanonical.PTE, at, v);
        } else {
            s.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, at, (int) v);
        }
    }

    private MemorySegment mapOne(long mfn, String op, String what) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment want = a.allocate(JAVA_LONG);
            want.set(JAVA_LONG, 0, mfn);
            MemorySegment errs = a.allocate(JAVA_INT);
            MemorySegment region = d.hv.fmem.map(d.domid, XenLayouts.PROT_READ | XenLayouts.PROT_WRITE, 1, want, errs);
            int err = errs.get(JAVA_INT, 0);
            if (err != 0) {
                d.hv.fmem.unmap(region, 1);
                throw new HypervisorException(op, d.name, "cannot map " + what + " (mfn 0x" + Long.toHexString(mfn) + "): errno "
                        + -err + " (" + NativeCalls.strerror(-err) + ")");
            }
            return region;
        }
    }

    private MemorySegment domctl(Arena a, int cmd) {
        MemorySegment dc = a.allocate(XenLayouts.XEN_DOMCTL);
        dc.fill((byte) 0);
        dc.set(JAVA_INT, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "cmd"), cmd);
        dc.set(JAVA_SHORT, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "domain"), (short) d.domid);
        return dc;
    }

    private void loadExtended(int vcpu) throws HypervisorException {
        byte[] ext = extended.get(vcpu);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dc = domctl(a, XenLayouts.XEN_DOMCTL_SET_EXT_VCPUCONTEXT);
            long u = XenLayouts.offset(XenLayouts.XEN_DOMCTL, "u");
            MemorySegment.copy(ext, 0, dc, JAVA_BYTE, u, ext.length);
            dc.set(JAVA_INT, u + XenLayouts.offset(XenLayouts.XEN_DOMCTL_EXT_VCPUCONTEXT, "vcpu"), vcpu);
            d.hv.ctrl.domctl(dc);
        }
    }

    private void loadXsave(int vcpu) throws HypervisorException {
        byte[] buffer = xsave.get(vcpu);
        XenCtrl.HypercallBuffer hb = d.hv.ctrl.hypercallBufferAllocPages((buffer.length + PAGE - 1) / PAGE);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment.copy(buffer, 0, hb.data(), JAVA_BYTE, 0, buffer.length);
            MemorySegment dc = domctl(a, XenLayouts.XEN_DOMCTL_SETVCPUEXTSTATE);
            long u = XenLayouts.offset(XenLayouts.XEN_DOMCTL, "u");
            var l = XenLayouts.XEN_DOMCTL_VCPUEXTSTATE;
            dc.set(JAVA_INT, u + XenLayouts.offset(l, "vcpu"), vcpu);
            dc.set(JAVA_LONG, u + XenLayouts.offset(l, "size"), buffer.length);
            dc.set(JAVA_LONG, u + XenLayouts.offset(l, "buffer"), hb.data().address());
            d.hv.ctrl.domctl(dc);
        } finally {
            d.hv.ctrl.hypercallBufferFreePages(hb);
        }
    }

    /** §8.3: copy vcpu_info[] and arch, clear every pending bit and selector, mask every event channel. */
    private void loadSharedInfo() throws HypervisorException {
        String op = "restore.shared_info";
        long frame = d.hv.rawInfo(d.domid).orElseThrow(() -> new HypervisorException(op, d.name, "the domain vanished")).sharedInfoFrame();
        MemorySegment page = mapOne(frame, op, "the shared-info page");
        try {
            applySharedInfo(gw, MemorySegment.ofArray(sharedInfo), page);
        } finally {
            d.hv.fmem.unmap(page, 1);
        }
    }

    /** The shared-info rules of §8.3, from the stream's page {@code from} into the new domain's {@code to}. */
    static void applySharedInfo(Width gw, MemorySegment from, MemorySegment to) {
        var l = gw == Width.W64 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32;
        var vi = gw == Width.W64 ? XenLayouts.VCPU_INFO_X86_64 : XenLayouts.VCPU_INFO_X86_32;
        long vcpuInfo = XenLayouts.offset(l, "vcpu_info");
        long vcpuInfoBytes = XenLayouts.XEN_LEGACY_MAX_VCPUS * vi.byteSize();
        MemorySegment.copy(from, vcpuInfo, to, vcpuInfo, vcpuInfoBytes);
        long arch = XenLayouts.offset(l, "arch");
        long archBytes = (gw == Width.W64 ? XenLayouts.ARCH_SHARED_INFO_X86_64 : XenLayouts.ARCH_SHARED_INFO_X86_32).byteSize();
        MemorySegment.copy(from, arch, to, arch, archBytes);
        long selector = XenLayouts.offset(vi, "evtchn_pending_sel");
        for (int i = 0; i < XenLayouts.XEN_LEGACY_MAX_VCPUS; i++) {
            to.asSlice(vcpuInfo + i * vi.byteSize() + selector, gw.bytes()).fill((byte) 0);
        }
        long pending = XenLayouts.offset(l, "evtchn_pending");
        long mask = XenLayouts.offset(l, "evtchn_mask");
        long bitmapBytes = mask - pending;
        to.asSlice(pending, bitmapBytes).fill((byte) 0);
        to.asSlice(mask, bitmapBytes).fill((byte) 0xFF);
    }

    /** §3.2: the rebuilt p2m (new MFNs, GW-sized entries, ~0 for none) into the frames the stream named. */
    private void writeGuestP2m() throws HypervisorException {
        String op = "restore.p2m";
        int w = gw.bytes();
        long fpp = PAGE / w;
        long[] mfns = new long[frameList.length];
        for (int i = 0; i < frameList.length; i++) {
            long pfn = frameList[i];
            PvCanonical.checkPfn(pfn, p2mSize, this::typeOf, 0, op, d.name, "p2m frame " + i);
            mfns[i] = mfnOf(pfn);
            if (mfns[i] < 0) {
                throw new HypervisorException(op, d.name, "p2m frame " + i + " (pfn 0x" + Long.toHexString(pfn) + ") has no memory");
            }
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment want = a.allocate(JAVA_LONG, PvSource.MAX_PAGES_PER_MAP);
            MemorySegment errs = a.allocate(JAVA_INT, PvSource.MAX_PAGES_PER_MAP);
            for (int base = 0; base < mfns.length; base += PvSource.MAX_PAGES_PER_MAP) {
                int n = Math.min(PvSource.MAX_PAGES_PER_MAP, mfns.length - base);
                MemorySegment.copy(mfns, base, want, JAVA_LONG, 0, n);
                MemorySegment region = d.hv.fmem.map(d.domid, XenLayouts.PROT_READ | XenLayouts.PROT_WRITE, n, want, errs);
                try {
                    for (int i = 0; i < n; i++) {
                        int err = errs.getAtIndex(JAVA_INT, i);
                        if (err != 0) {
                            throw new HypervisorException(op, d.name, "cannot map p2m frame " + (base + i) + ": errno " + -err
                                    + " (" + NativeCalls.strerror(-err) + ")");
                        }
                    }
                    long first = base * fpp;
                    long last = Math.min(p2mSize, (base + n) * fpp);
                    for (long pfn = first; pfn < last; pfn++) {
                        long mfn = mfnOf(pfn);
                        long off = (pfn - first) * w;
                        setWord(region, off, mfn < 0 ? -1L : mfn);
                    }
                } finally {
                    d.hv.fmem.unmap(region, n);
                }
            }
        }
    }

    /** Frees the off-heap bookkeeping (the domain's memory belongs to Xen). */
    synchronized void release() {
        if (!released) {
            released = true;
            arena.close();
        }
    }
}
