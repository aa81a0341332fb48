package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.GuestMemory.PageMapping;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Restoring PV guests against {@link FakeXen}: the domain build, page-table uncanonicalisation with new
 * machine frames, the end-of-restore steps (pinning, vCPUs, start_info, shared info, p2m) and
 * destroy-on-failure. The round trips read a source guest through the adapter, as a save would.
 */
class XenPvRestoreTest {

    private static final UUID ID = UUID.fromString("11111111-2222-3333-4444-555555555555");
    private static final long START_INFO = 30;
    private static final long STORE = 31;
    private static final long CONSOLE = 32;
    private static final long GDT = 33;

    private final FakeXen xen = new FakeXen();

    // ---- the domain build -------------------------------------------------------------------------------

    @Test
    void aPvDomainIsBuiltWithoutTheHvmFlagsAndAPaeOneIsMadeCompat() throws Exception {
        var hv = xen.hypervisor();
        hv.createForRestore(new DomainShape("pv64", ID, 0x1000, 2, GuestType.PV, Width.W64));
        FakeXen.Dom d64 = xen.domains.lastEntry().getValue();
        var l = XenLayouts.XEN_DOMCTL_CREATEDOMAIN;
        MemorySegment cfg = MemorySegment.ofArray(d64.createConfig);
        assertEquals(0, cfg.get(JAVA_INT_UNALIGNED, XenLayouts.offset(l, "flags")));
        assertEquals(0, cfg.get(JAVA_INT_UNALIGNED, XenLayouts.offset(l, "arch", "emulation_flags")));
        assertEquals(0, d64.addressSizeBits, "PV domains start 64-bit");
        assertFalse(xen.calls.contains("xc_domctl:" + XenLayouts.XEN_DOMCTL_SET_ADDRESS_SIZE));

        hv.createForRestore(new DomainShape("pae", ID, 0x1000, 1, GuestType.PV, Width.W32));
        FakeXen.Dom d32 = xen.domains.lastEntry().getValue();
        assertEquals(32, d32.addressSizeBits);
        assertTrue(xen.calls.indexOf("xc_domctl:" + XenLayouts.XEN_DOMCTL_SET_ADDRESS_SIZE) < xen.calls.lastIndexOf("xs_write"),
                "the width is set before the domain is named (and before any page)");
    }

    @Test
    void aFailedAddressSizeDestroysTheNewDomain() throws Exception {
        xen.fail("xc_domctl", FakeXen.EINVAL);
        NativeCallException e = assertThrows(NativeCallException.class, () -> xen.hypervisor()
                .createForRestore(new DomainShape("pae", ID, 0x1000, 1, GuestType.PV, Width.W32)));
        assertEquals("xc_domctl", e.call());
        assertTrue(xen.domains.isEmpty());
    }

    // ---- a source guest and what a save reads from it ------------------------------------------------------

    /** A runnable-looking source: L4/L3/L2/L1 chain (64-bit) or L3/L2/L1 (PAE), start_info, GDT, 2 vCPUs. */
    private FakeXen.Dom sourceGuest(Width gw) {
        int w = gw.bytes();
        FakeXen.Dom s = xen.addPvGuest("src", 1500, 2, w, Set.of(7L, 100L, 1200L));
        long l1 = 13;
        long l2 = 12;
        long l3 = 11;
        long l4 = 10;
        long[] leaf = new long[512];
        for (int i = 0; i < 40; i++) {
            long pfn = 200 + i * 3;
            leaf[i] = (s.pfnToMfn.get(pfn) << 12) | 0x63 | (i % 2 == 0 ? Long.MIN_VALUE : 0);
        }
        leaf[100] = 0x0000_0000_0bad_0000L; // not present: carried as is
        xen.setPageTable(s, l1, PageType.L1TAB_PINNED, leaf);
        long[] mid = new long[512];
        mid[0] = (s.pfnToMfn.get(l1) << 12) | 0x67;
        xen.setPageTable(s, l2, PageType.L2TAB, mid);
        long[] upper = new long[512];
        upper[0] = (s.pfnToMfn.get(l2) << 12) | (gw == Width.W64 ? 0x67 : 0x01);
        xen.setPageTable(s, l3, gw == Width.W64 ? PageType.L3TAB : PageType.L3TAB_PINNED, upper);
        if (gw == Width.W64) {
            long[] top = new long[512];
            top[0] = (s.pfnToMfn.get(l3) << 12) | 0x67;
            top[260] = (s.pfnToMfn.get(l3) << 12) | 0x63; // a Xen slot
            xen.setPageTable(s, l4, PageType.L4TAB_PINNED, top);
        }
        // start_info as a suspended guest leaves it: store and console as PFNs
        var si = gw == Width.W64 ? XenLayouts.START_INFO_X86_64 : XenLayouts.START_INFO_X86_32;
        byte[] startInfo = xen.pvPage(s, START_INFO);
        java.util.Arrays.fill(startInfo, (byte) 0);
        FakeXen.putWord(startInfo, XenLayouts.offset(si, "nr_pages"), w, 1500);
        FakeXen.putWord(startInfo, XenLayouts.offset(si, "store_mfn"), w, STORE);
        FakeXen.putWord(startInfo, XenLayouts.offset(si, "console", "domU", "mfn"), w, CONSOLE);
        FakeXen.putWord(startInfo, XenLayouts.offset(si, "flags"), 4, 0x3);
        var o = PvCanonical.VcpuOffsets.of(gw);
        for (int v = 0; v < 2; v++) {
            byte[] raw = new byte[0x1430];
            MemorySegment c = MemorySegment.ofArray(raw);
            o.setWord(c, o.edx(), v == 0 ? s.pfnToMfn.get(START_INFO) : 0x4242);
            o.setWord(c, o.gdtEnts(), 32);
            o.setWord(c, o.gdtFrame(0), s.pfnToMfn.get(GDT));
            o.setWord(c, o.cr(3), PvCanonical.frameToCr3(gw, s.pfnToMfn.get(gw == Width.W64 ? l4 : l3)));
            s.vcpuContexts.put(v, raw);
        }
        s.xsave.put(1, new byte[] {7, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9});
        s.xfeatureMask = 7;
        byte[] shinfo = xen.machine.get(s.sharedInfoMfn);
        var sl = gw == Width.W64 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32;
        java.util.Arrays.fill(shinfo, 0, (int) XenLayouts.offset(sl, "evtchn_pending"), (byte) 0x11); // vcpu_info
        java.util.Arrays.fill(shinfo, (int) XenLayouts.offset(sl, "evtchn_pending"), (int) XenLayouts.offset(sl, "wc_version"), (byte) 0x0F);
        return s;
    }

    /** A saved page, as the stream carries it. */
    record Saved(long pfn, PageType type, byte[] data) {
    }

    /** Everything a save of {@code name} reads, through the adapter. */
    record Save(List<Saved> pages, long[] frames, List<byte[]> contexts, List<byte[]> ext, List<byte[]> xsave, byte[] shinfo) {
    }

    private Save save(String name) throws Exception {
        Domain src = xen.hypervisor().domain(name);
        src.pause();
        long p2m = src.info().p2mSize();
        List<Saved> pages = new ArrayList<>();
        try (DirtyBitmap b = new DirtyBitmap(p2m)) {
            src.memory().populated(b);
            long[] pfns = new long[(int) b.cardinality()];
            int n = 0;
            for (long pfn = b.nextSetBit(0); pfn >= 0; pfn = b.nextSetBit(pfn + 1)) {
                pfns[n++] = pfn;
            }
            for (int off = 0; off < n; off += 1024) {
                try (PageMapping m = src.memory().mapForRead(pfns, off, Math.min(1024, n - off))) {
                    for (int i = 0; i < m.count(); i++) {
                        pages.add(new Saved(m.pfn(i), m.type(i), m.type(i).hasData() ? m.page(i).toArray(JAVA_BYTE) : null));
                    }
                }
            }
        }
        List<byte[]> ctx = new ArrayList<>();
        List<byte[]> ext = new ArrayList<>();
        List<byte[]> xs = new ArrayList<>();
        for (int v = 0; v < src.info().vcpus(); v++) {
            ctx.add(src.platform().pvVcpuContext(v));
            ext.add(src.platform().pvExtendedContext(v));
            xs.add(src.platform().pvXsave(v));
        }
        return new Save(pages, src.platform().p2mFrameList(), ctx, ext, xs, src.platform().sharedInfo());
    }

    private Domain restoreShell(Width gw) throws Exception {
        return xen.hypervisor().createForRestore(new DomainShape("dst", ID, 1500, 2, GuestType.PV, gw));
    }

    private static void writePages(Domain dst, Save s) throws HypervisorException {
        for (Saved p : s.pages) {
            if (p.data != null) {
                dst.memory().writePage(p.pfn, p.type, MemorySegment.ofArray(p.data));
            } else {
                dst.memory().populateOnly(p.pfn, p.type);
            }
        }
    }

    /** Legacy order: frame list (header), pages, then the tail: per vCPU context, ext, XSAVE; shared info last. */
    private static void restoreLegacyOrder(Domain dst, Save s) throws HypervisorException {
        dst.platform().setP2mFrameList(s.frames);
        writePages(dst, s);
        for (int v = 0; v < s.contexts.size(); v++) {
            dst.platform().setPvVcpuContext(v, s.contexts.get(v));
            dst.platform().setPvExtendedContext(v, s.ext.get(v));
            dst.platform().setPvXsave(v, s.xsave.get(v));
        }
        dst.platform().setSharedInfo(s.shinfo);
    }

    private long pfnOfNewMfn(long mfn) {
        return xen.m2p.getOrDefault(mfn, -1L);
    }

    @ParameterizedTest
    @EnumSource(Width.class)
    void aSavedGuestRestoresWithNewFramesAndEquivalentTables(Width gw) throws Exception {
        FakeXen.Dom src = sourceGuest(gw);
        Save s = save("src");
        Domain dst = restoreShell(gw);
        FakeXen.Dom d = xen.domains.lastEntry().getValue();
        restoreLegacyOrder(dst, s);

        // every page of the source exists in the destination at a different machine frame
        assertEquals(src.pfnToMfn.keySet(), d.pfnToMfn.keySet());
        for (long pfn : src.pfnToMfn.keySet()) {
            assertNotEquals(src.pfnToMfn.get(pfn), d.pfnToMfn.get(pfn));
        }
        // the page tables mean the same PFNs with the same flags
        for (long table : gw == Width.W64 ? new long[] {10, 11, 12, 13} : new long[] {11, 12, 13}) {
            long[] before = longs(xen.pvPage(src, table));
            long[] after = longs(xen.pvPage(d, table));
            boolean l4 = gw == Width.W64 && table == 10;
            boolean paeL3 = gw == Width.W32 && table == 11;
            long mask = PvCanonical.frameMask(gw);
            for (int i = 0; i < 512; i++) {
                long expected = before[i];
                if (l4 && i >= 256 && i <= 271) {
                    expected = 0;
                }
                if ((expected & 1) != 0) {
                    long pfn = xen.m2p.get((expected & mask) >>> 12);
                    expected = (expected & ~mask) | (d.pfnToMfn.get(pfn) << 12);
                    if (paeL3) {
                        expected &= ~0x26L;
                    }
                }
                assertEquals(expected, after[i], "table pfn " + table + " entry " + i);
            }
        }
        // ordinary pages are byte-identical (the p2m frames and start_info were rewritten by the restore)
        for (long pfn : new long[] {0, 5, 200, 1499 - 3}) {
            assertArrayEquals(xen.pvPage(src, pfn), xen.pvPage(d, pfn), "pfn " + pfn);
        }
        // pinning: exactly the pinned tables, by their new frames
        List<Long> pinned = d.pins.stream().map(p -> pfnOfNewMfn(p[1])).sorted().toList();
        assertEquals(gw == Width.W64 ? List.of(10L, 13L) : List.of(11L, 13L), pinned);
        // vCPUs
        var o = PvCanonical.VcpuOffsets.of(gw);
        MemorySegment c0 = MemorySegment.ofArray(d.vcpuContexts.get(0));
        assertEquals(d.pfnToMfn.get(START_INFO), o.word(c0, o.edx()));
        assertEquals(d.pfnToMfn.get(GDT), o.word(c0, o.gdtFrame(0)));
        assertEquals(PvCanonical.frameToCr3(gw, d.pfnToMfn.get(gw == Width.W64 ? 10L : 11L)), o.word(c0, o.cr(3)));
        assertEquals(XenLayouts.VGCF_ONLINE, o.word(c0, o.flags()) & XenLayouts.VGCF_ONLINE);
        assertEquals(0x4242, o.word(MemorySegment.ofArray(d.vcpuContexts.get(1)), o.edx()));
        assertArrayEquals(s.xsave.get(1), d.xsave.get(1));
        assertFalse(d.xsave.containsKey(0), "no XSAVE state, nothing loaded");
        assertEquals(1, MemorySegment.ofArray(d.extContexts.get(1)).get(JAVA_INT_UNALIGNED, 0));
        // start_info patched for the new domain
        int w = gw.bytes();
        var si = gw == Width.W64 ? XenLayouts.START_INFO_X86_64 : XenLayouts.START_INFO_X86_32;
        byte[] startInfo = xen.pvPage(d, START_INFO);
        assertEquals(1500, FakeXen.getWord(startInfo, XenLayouts.offset(si, "nr_pages"), w));
        assertEquals(d.sharedInfoMfn << 12, FakeXen.getWord(startInfo, XenLayouts.offset(si, "shared_info"), w));
        assertEquals(0, FakeXen.getWord(startInfo, XenLayouts.offset(si, "flags"), 4));
        assertEquals((long) d.pfnToMfn.get(STORE), FakeXen.getWord(startInfo, XenLayouts.offset(si, "store_mfn"), w));
        assertEquals((long) d.pfnToMfn.get(CONSOLE), FakeXen.getWord(startInfo, XenLayouts.offset(si, "console", "domU", "mfn"), w));
        // the p2m written into the guest's p2m frames: new MFNs, ~0 for holes
        int fpp = 4096 / w;
        for (long pfn : new long[] {0, 7, 100, 513, 1200, 1499}) {
            byte[] frame = xen.pvPage(d, s.frames[(int) (pfn / fpp)]);
            long entry = FakeXen.getWord(frame, (pfn % fpp) * w, w);
            Long mfn = d.pfnToMfn.get(pfn);
            assertEquals(mfn == null ? (w == 8 ? -1L : 0xFFFF_FFFFL) : mfn, entry, "p2m[" + pfn + "]");
        }
        assertEquals(3, xen.liveMappings.size(), "only the save's handle still holds its views (M2P, shared info, p2m); the restore holds none");
        dst.resume();
        assertEquals(DomainState.RUNNING, dst.info().state());
    }

    private static long[] longs(byte[] page) {
        long[] out = new long[512];
        java.nio.ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
        return out;
    }

    @Test
    void aPaeGuestWithoutExtendedCr3WhoseL3LandsAbove4GibIsRefusedAndDestroyed() throws Exception {
        xen.maxMfn = 0x1F_FFFF; // an 8 GiB host
        sourceGuest(Width.W32);
        Save s = save("src");
        xen.nextMfn = 0x10_0000; // the destination's frames are all above 4 GiB
        Domain dst = restoreShell(Width.W32);
        int domid = xen.domains.lastKey();
        HypervisorException e = assertThrows(HypervisorException.class, () -> restoreLegacyOrder(dst, s));
        assertTrue(e.getMessage().startsWith("restore.finish domain=dst: the PAE guest runs without extended cr3 and its L3 table pfn 0xb"
                + " got mfn 0x1"), e.getMessage());
        assertTrue(e.getMessage().endsWith("above 4 GiB; moving L3 tables below 4 GiB is not implemented by this backend"));
        assertFalse(xen.domains.containsKey(domid));
    }

    @Test
    void aPaeGuestWithExtendedCr3MayHaveItsL3Anywhere() throws Exception {
        xen.maxMfn = 0x1F_FFFF;
        sourceGuest(Width.W32);
        Save s = save("src");
        MemorySegment.ofArray(s.contexts.get(0)).set(JAVA_INT_UNALIGNED,
                XenLayouts.offset(XenLayouts.VCPU_GUEST_CONTEXT_X86_32, "vm_assist"), 1 << PvRestore.VMASST_TYPE_PAE_EXTENDED_CR3);
        xen.nextMfn = 0x10_0000;
        Domain dst = restoreShell(Width.W32);
        FakeXen.Dom d = xen.domains.lastEntry().getValue();
        restoreLegacyOrder(dst, s);
        assertTrue(d.pfnToMfn.get(11L) >= 0x10_0000L);
        assertEquals(2, d.pins.size());
    }

    @Test
    void sharedInfoKeepsVcpuInfoAndArchClearsPendingAndMasksEveryChannel() throws Exception {
        sourceGuest(Width.W64);
        Save s = save("src");
        Domain dst = restoreShell(Width.W64);
        FakeXen.Dom d = xen.domains.lastEntry().getValue();
        restoreLegacyOrder(dst, s);
        byte[] page = xen.machine.get(d.sharedInfoMfn);
        for (int v = 0; v < 32; v++) {
            for (int b = 0; b < 64; b++) {
                byte expected = (byte) (b >= 8 && b < 16 ? 0 : 0x11); // evtchn_pending_sel cleared
                assertEquals(expected, page[v * 64 + b], "vcpu_info[" + v + "] byte " + b);
            }
        }
        for (int i = 2048; i < 2560; i++) {
            assertEquals(0, page[i], "evtchn_pending byte " + i);
        }
        for (int i = 2560; i < 3072; i++) {
            assertEquals((byte) 0xFF, page[i], "evtchn_mask byte " + i);
        }
        for (int i = 3072; i < 3088; i++) {
            assertEquals(0x33, page[i], "wc_* are Xen's own, not copied");
        }
        assertArrayEquals(java.util.Arrays.copyOfRange(s.shinfo, 3088, 3136), java.util.Arrays.copyOfRange(page, 3088, 3136), "arch copied");
        assertEquals(0, FakeXen.getWord(page, 3096, 8), "the source zeroed the frame list list");
    }

    @Test
    void moreThan1024PinnedTablesArePinnedInBatchesOf1024() throws Exception {
        FakeXen.Dom src = sourceGuest(Width.W64);
        for (long pfn = 300; pfn < 1400; pfn++) {
            if (pfn != 1200) { // a hole
                xen.setPageTable(src, pfn, PageType.L1TAB_PINNED, new long[512]);
            }
        }
        Save s = save("src");
        Domain dst = restoreShell(Width.W64);
        FakeXen.Dom d = xen.domains.lastEntry().getValue();
        restoreLegacyOrder(dst, s);
        assertEquals(List.of(1024, 1099 + 2 - 1024), d.pinBatchSizes, "1099 tables here, the guest's L4 and L1");
    }

    @Test
    void inV2OrderTheRestoreFinishesAtVcpu0AndLaterVcpusGoStraightToXen() throws Exception {
        sourceGuest(Width.W64);
        Save s = save("src");
        Domain dst = restoreShell(Width.W64);
        FakeXen.Dom d = xen.domains.lastEntry().getValue();
        dst.platform().setP2mFrameList(s.frames);
        writePages(dst, s);
        dst.platform().setSharedInfo(s.shinfo);
        assertTrue(d.pins.isEmpty(), "not finished without vcpu0");
        dst.platform().setPvVcpuContext(0, s.contexts.get(0));
        assertEquals(2, d.pins.size(), "finished: tables pinned");
        assertFalse(d.vcpuContexts.containsKey(1));
        dst.platform().setPvVcpuContext(1, s.contexts.get(1));
        dst.platform().setPvXsave(1, s.xsave.get(1));
        assertTrue(d.vcpuContexts.containsKey(1));
        assertArrayEquals(s.xsave.get(1), d.xsave.get(1));

        HypervisorException late = assertThrows(HypervisorException.class,
                () -> dst.memory().writePage(5, PageType.NOTAB, MemorySegment.ofArray(new byte[4096])));
        assertEquals("memory.writePage domain=dst: page 0x5 arrived after the restore was finished (page tables pinned, vCPU 0 loaded)",
                late.getMessage());
        assertThrows(HypervisorException.class, () -> dst.platform().setSharedInfo(s.shinfo));
        assertThrows(HypervisorException.class, () -> dst.platform().setPvVcpuContext(0, s.contexts.get(0)));
    }

    @Test
    void resumeOfAnIncompleteRestoreNamesWhatIsMissingAndDoesNotUnpause() throws Exception {
        sourceGuest(Width.W64);
        Save s = save("src");
        Domain dst = restoreShell(Width.W64);
        writePages(dst, s);
        dst.platform().setPvVcpuContext(0, s.contexts.get(0));
        HypervisorException e = assertThrows(HypervisorException.class, dst::resume);
        assertEquals("restore.finish domain=dst: the PV restore is incomplete: the p2m frame list, the shared-info page never arrived",
                e.getMessage());
        assertEquals(DomainState.PAUSED, dst.info().state());
    }

    @Test
    void completeRestoreReportsAnIncompleteRestoreBeforeAnyUnpause() throws Exception {
        sourceGuest(Width.W64);
        Save s = save("src");
        Domain dst = restoreShell(Width.W64);
        writePages(dst, s);
        dst.platform().setPvVcpuContext(0, s.contexts.get(0));
        HypervisorException e = assertThrows(HypervisorException.class, dst::completeRestore);
        assertEquals("restore.finish domain=dst: the PV restore is incomplete: the p2m frame list, the shared-info page never arrived",
                e.getMessage());
        assertEquals(DomainState.PAUSED, dst.info().state());
    }

    @Test
    void aFailedPinDestroysTheDomainKeepsTheFirstErrorAndLaterCallsSayWhy() throws Exception {
        sourceGuest(Width.W64);
        Save s = save("src");
        Domain dst = restoreShell(Width.W64);
        int domid = xen.domains.lastKey();
        xen.fail("xc_mmuext_op", FakeXen.EINVAL);
        xen.fail("xc_domain_destroy", 0);
        NativeCallException e = assertThrows(NativeCallException.class, () -> restoreLegacyOrder(dst, s));
        assertEquals("xc_mmuext_op", e.call());
        assertFalse(xen.domains.containsKey(domid), "nothing half-built is left");
        assertFalse(xen.calls.contains("xc_vcpu_setcontext"), "nothing after the failed step ran");
        dst.destroy(); // the caller's cleanup: a no-op now, and no error replaces the first
        HypervisorException later = assertThrows(HypervisorException.class, () -> dst.platform().setPvXsave(1, s.xsave.get(1)));
        assertEquals("platform.setPvXsave domain=dst: the domain was destroyed through this handle", later.getMessage());
    }

    @Test
    void aDestroyThatFailsAfterAFailedStepIsAttachedNotThrown() throws Exception {
        sourceGuest(Width.W64);
        Save s = save("src");
        Domain dst = restoreShell(Width.W64);
        xen.fail("xc_vcpu_setcontext", FakeXen.EPERM);
        xen.fail("xc_domain_destroy", FakeXen.EBUSY);
        NativeCallException e = assertThrows(NativeCallException.class, () -> restoreLegacyOrder(dst, s));
        assertEquals("xc_vcpu_setcontext", e.call());
        assertEquals(1, e.getSuppressed().length);
        assertEquals("xc_domain_destroy", ((NativeCallException) e.getSuppressed()[0]).call());
    }

    @Test
    void badStateFromAPeerIsRefusedBeforeXenSeesIt() throws Exception {
        Domain dst = restoreShell(Width.W64);
        HypervisorException frames = assertThrows(HypervisorException.class, () -> dst.platform().setP2mFrameList(new long[] {1, 2}));
        assertEquals("platform.setP2mFrameList domain=dst: p2m frame list has 2 entries, a p2m of 1500 PFNs at guest width 64 needs 3",
                frames.getMessage());
        assertThrows(HypervisorException.class, () -> dst.platform().setP2mFrameList(new long[] {1, 2, 1500}));
        assertThrows(HypervisorException.class, () -> dst.platform().setPvVcpuContext(0, new byte[0xAF0]));
        assertThrows(HypervisorException.class, () -> dst.platform().setPvVcpuContext(2, new byte[0x1430]));
        assertThrows(HypervisorException.class, () -> dst.platform().setPvExtendedContext(0, new byte[129]));
        assertThrows(HypervisorException.class, () -> dst.platform().setPvXsave(0, new byte[15]));
        assertThrows(HypervisorException.class, () -> dst.platform().setSharedInfo(new byte[4095]));
        HypervisorException l4 = assertThrows(HypervisorException.class, () -> xen.hypervisor()
                .createForRestore(new DomainShape("pae", ID, 16, 1, GuestType.PV, Width.W32))
                .memory().writePage(1, PageType.L4TAB, MemorySegment.ofArray(new byte[4096])));
        assertEquals("memory.writePage domain=pae: an L4 page table for a 32-bit (PAE) guest", l4.getMessage());
        HypervisorException far = assertThrows(HypervisorException.class, () -> dst.memory().writePage(0, PageType.L1TAB,
                MemorySegment.ofArray(tableWith(0x5DC_001L))));
        assertEquals("memory.writePage domain=dst: L1[0] maps pfn 0x5dc, outside the p2m of 1500 PFNs", far.getMessage());
    }

    private static byte[] tableWith(long pte0) {
        byte[] t = new byte[4096];
        java.nio.ByteBuffer.wrap(t).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0, pte0);
        return t;
    }

    @Test
    void xtabGivesAPagesMemoryBackByItsMachineFrame() throws Exception {
        Domain dst = restoreShell(Width.W64);
        FakeXen.Dom d = xen.domains.lastEntry().getValue();
        dst.memory().populateOnly(9, PageType.XALLOC);
        long mfn = d.pfnToMfn.get(9L);
        dst.memory().populateOnly(9, PageType.XTAB);
        assertFalse(d.pfnToMfn.containsKey(9L));
        assertFalse(xen.owner.containsKey(mfn));
        dst.memory().populateOnly(10, PageType.XTAB); // never populated: nothing to give back
        dst.memory().populateOnly(11, PageType.BROKEN);
        assertFalse(d.pfnToMfn.containsKey(11L));
    }
}
