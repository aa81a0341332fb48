package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.GuestMemory.PageMapping;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Reading a running PV guest (the source side of a save) against {@link FakeXen}'s PV model. */
class XenPvSourceTest {

    private static final long P2M = 1500;
    private static final Set<Long> HOLES = Set.of(7L, 100L, 101L, 1200L);

    private final FakeXen xen = new FakeXen();
    private final FakeXen.Dom dom = xen.addPvGuest("pv64", P2M, 2, 8, HOLES);

    private long mfn(long pfn) {
        return dom.pfnToMfn.get(pfn);
    }

    private static long[] ptes(long... firstEntries) {
        long[] t = new long[512];
        System.arraycopy(firstEntries, 0, t, 0, firstEntries.length);
        return t;
    }

    private Domain domain() throws HypervisorException {
        return xen.hypervisor().domain("pv64");
    }

    @Test
    void theP2mFrameListAndThePopulatedPfnsComeFromTheGuestsP2m() throws Exception {
        Domain d = domain();
        assertArrayEquals(new long[] {1497, 1498, 1499}, d.platform().p2mFrameList(), "ceil(1500 / 512) frames, by PFN");
        try (DirtyBitmap b = new DirtyBitmap(P2M)) {
            b.setAll();
            assertEquals(P2M - HOLES.size(), d.memory().populated(b));
            for (long hole : HOLES) {
                assertFalse(b.get(hole));
            }
            assertTrue(b.get(0) && b.get(1499));
        }
        assertEquals(1, xen.calls.stream().filter("xc_machphys_mfn_list"::equals).count(), "the views are mapped once per handle");
        assertFalse(xen.calls.contains("xc_memory_op"), "a 64-bit guest needs no compat M2P");
    }

    @Test
    void aBatchReturnsHolesAsXtabAndPageTablesCanonicalisedInBatchOrder() throws Exception {
        long[] l4 = new long[512];
        l4[0] = (mfn(11) << 12) | 0x67;
        l4[256] = (mfn(12) << 12) | 0x63; // a Xen slot: dropped
        l4[511] = (mfn(11) << 12) | 0x67;
        xen.setPageTable(dom, 10, PageType.L4TAB_PINNED, l4);
        xen.setPageTable(dom, 13, PageType.L1TAB, ptes(
                Long.MIN_VALUE | (mfn(20) << 12) | 0x63, (mfn(21) << 12) | 0x25, 0x0000_0000_0000_4000L, (0x3_FFF0L << 12) | 1));
        Domain d = domain();
        long[] batch = {99, 5, 7, 10, 13, 100, 20};
        try (PageMapping m = d.memory().mapForRead(batch, 1, 6)) {
            assertEquals(List.of(PageType.NOTAB, PageType.XTAB, PageType.L4TAB_PINNED, PageType.L1TAB, PageType.XTAB, PageType.NOTAB),
                    List.of(m.type(0), m.type(1), m.type(2), m.type(3), m.type(4), m.type(5)));
            assertArrayEquals(FakeXen.pattern(5, 1), m.page(0).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            assertArrayEquals(FakeXen.pattern(20, 1), m.page(5).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            long[] top = longs(m.page(2));
            assertEquals((11L << 12) | 0x67, top[0]);
            assertEquals(0, top[256]);
            assertEquals((11L << 12) | 0x67, top[511]);
            long[] leaf = longs(m.page(3));
            assertEquals(Long.MIN_VALUE | (20L << 12) | 0x63, leaf[0]);
            assertEquals((21L << 12) | 0x25, leaf[1]);
            assertEquals(0x4000L, leaf[2], "not present: kept");
            assertEquals(1L, leaf[3], "a frame that is not the guest's, while it runs: PFN 0");
            assertThrows(IllegalStateException.class, () -> m.page(1));
            assertEquals(10L, m.pfn(2), "entries follow the offset into the PFN array");
        }
        assertEquals(4L, xen.mapCallSizes.getLast(), "the batch's four data pages in one map call");
        assertEquals(3, xen.liveMappings.size(), "after close only the held views remain: M2P chunk, shared info, p2m frames");
    }

    private static long[] longs(MemorySegment page) {
        long[] out = new long[512];
        ByteBuffer.wrap(page.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
        return out;
    }

    @Test
    void onceThePausedGuestHasAForeignFrameInATableTheBatchFailsAndUnmapsIt() throws Exception {
        xen.setPageTable(dom, 13, PageType.L1TAB, ptes((0x3_FFF0L << 12) | 1));
        Domain d = domain();
        d.pause();
        try (DirtyBitmap b = new DirtyBitmap(P2M)) {
            d.memory().populated(b);
        }
        int held = xen.liveMappings.size();
        HypervisorException e = assertThrows(HypervisorException.class, () -> d.memory().mapForRead(new long[] {13}, 0, 1));
        assertEquals("memory.mapForRead domain=pv64: L1[0] maps mfn 0x3fff0, which is not the guest's, while the guest is paused", e.getMessage());
        assertEquals(held, xen.liveMappings.size(), "the batch's mapping is gone");
        d.resume();
        assertTrue(xen.liveMappings.isEmpty(), "resume releases the M2P, shared-info and p2m views");
    }

    @Test
    void sharedInfoIsTheGuestsPageWithTheFrameListListZeroed() throws Exception {
        byte[] page = domain().platform().sharedInfo();
        byte[] expected = xen.machine.get(dom.sharedInfoMfn).clone();
        java.util.Arrays.fill(expected, 3096, 3104, (byte) 0);
        assertArrayEquals(expected, page);
        assertEquals(P2M, FakeXen.getWord(page, 3088, 8), "arch.max_pfn is kept");
    }

    @Test
    void vcpuContextsAreCanonicalisedAndExtendedStateIsXensOwn() throws Exception {
        var o = PvCanonical.VcpuOffsets.of(Width.W64);
        byte[] raw = new byte[0x1430];
        MemorySegment c = MemorySegment.ofArray(raw);
        o.setWord(c, o.edx(), mfn(30));
        o.setWord(c, o.gdtEnts(), 16);
        o.setWord(c, o.gdtFrame(0), mfn(31));
        o.setWord(c, o.cr(3), mfn(10) << 12);
        o.setWord(c, o.cr(1), mfn(12) << 12);
        o.setWord(c, o.flags(), 0x25);
        dom.vcpuContexts.put(0, raw);
        dom.vcpuContexts.put(1, raw.clone());
        dom.xsave.put(1, new byte[] {7, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3});
        dom.xfeatureMask = 7;
        Domain d = domain();

        MemorySegment ctx0 = MemorySegment.ofArray(d.platform().pvVcpuContext(0));
        assertEquals(0x1430, ctx0.byteSize());
        assertEquals(30, o.word(ctx0, o.edx()));
        assertEquals(31, o.word(ctx0, o.gdtFrame(0)));
        assertEquals(10L << 12, o.word(ctx0, o.cr(3)));
        assertEquals((12L << 12) | 1, o.word(ctx0, o.cr(1)));
        assertEquals(0x25, o.word(ctx0, o.flags()));
        MemorySegment ctx1 = MemorySegment.ofArray(d.platform().pvVcpuContext(1));
        assertEquals(mfn(30), o.word(ctx1, o.edx()), "only vcpu0's rdx is the start_info frame");

        byte[] ext = d.platform().pvExtendedContext(1);
        assertEquals(128, ext.length);
        ByteBuffer eb = ByteBuffer.wrap(ext).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, eb.getInt(0));
        assertEquals(64, eb.getInt(4), "Xen 4.17's size");
        assertEquals(0xFFFF_8000_0000_1001L, eb.getLong(8));
        assertArrayEquals(new byte[0], d.platform().pvXsave(0), "no XSAVE state: empty");
        assertArrayEquals(dom.xsave.get(1), d.platform().pvXsave(1));
        assertTrue(xen.liveBuffers.isEmpty(), "the XSAVE hypercall buffer is freed");
        assertTrue(xen.calls.contains("xc_domctl:" + XenLayouts.XEN_DOMCTL_GET_EXT_VCPUCONTEXT));
        assertThrows(HypervisorException.class, () -> d.platform().pvVcpuContext(2));
    }

    @Test
    void aPaeGuestUsesFourByteP2mEntriesTheCompatM2pAndExtendedCr3() throws Exception {
        FakeXen x = new FakeXen();
        FakeXen.Dom pae = x.addPvGuest("pae", 3000, 1, 4, Set.of(2999L, 5L));
        long[] l3 = new long[512];
        l3[0] = (pae.pfnToMfn.get(40L) << 12) | 0x27;
        l3[4] = (pae.pfnToMfn.get(40L) << 12) | 0x01;
        x.setPageTable(pae, 41, PageType.L3TAB_PINNED, l3);
        long[] l2 = new long[512];
        l2[428] = (x.compatM2pMfn0 << 12) | 0x63;
        l2[1] = (pae.pfnToMfn.get(42L) << 12) | 0x67;
        x.setPageTable(pae, 40, PageType.L2TAB_PINNED, l2);
        var o = PvCanonical.VcpuOffsets.of(Width.W32);
        byte[] raw = new byte[0x1430];
        MemorySegment c = MemorySegment.ofArray(raw);
        o.setWord(c, o.edx(), pae.pfnToMfn.get(30L));
        o.setWord(c, o.cr(3), PvCanonical.frameToCr3(Width.W32, pae.pfnToMfn.get(41L)));
        pae.vcpuContexts.put(0, raw);
        Domain d = x.hypervisor().domain("pae");

        assertArrayEquals(new long[] {2996, 2997, 2998}, d.platform().p2mFrameList(), "ceil(3000 / 1024) frames, 2999 is a hole");
        try (DirtyBitmap b = new DirtyBitmap(3000)) {
            assertEquals(2998, d.memory().populated(b));
        }
        try (PageMapping m = d.memory().mapForRead(new long[] {41, 40, 5}, 0, 3)) {
            assertEquals(PageType.L3TAB_PINNED, m.type(0));
            long[] top = longs(m.page(0));
            assertEquals((40L << 12) | 0x01, top[0], "USER, RW, ACCESSED cleared");
            assertEquals(0, top[4]);
            long[] mid = longs(m.page(1));
            assertEquals((42L << 12) | 0x67, mid[1]);
            assertEquals(0, mid[428], "the compat M2P slot is Xen's");
            assertEquals(PageType.XTAB, m.type(2));
        }
        assertTrue(x.calls.contains("xc_memory_op"));
        MemorySegment ctx = MemorySegment.ofArray(d.platform().pvVcpuContext(0));
        assertEquals(0xAF0, ctx.byteSize());
        assertEquals(30, o.word(ctx, o.edx()));
        assertEquals(PvCanonical.frameToCr3(Width.W32, 41), o.word(ctx, o.cr(3)));
        byte[] shinfo = d.platform().sharedInfo();
        assertEquals(0, FakeXen.getWord(shinfo, 2320, 4), "the PAE frame list list field is zeroed");
        assertEquals(3000, FakeXen.getWord(shinfo, 2316, 4));
    }

    @Test
    void aGuestWithALinearP2mIsWalkedThroughItsPageTables() throws Exception {
        // the three p2m frames straddle a 2 MiB boundary: two L1 tables, read as one run of entries
        xen.makeLinearP2m(dom, 8, 0xFFFF_C900_0020_0000L - 2 * 4096, 40, 41, 42, 43, 44);
        Domain d = domain();
        assertArrayEquals(new long[] {1497, 1498, 1499}, d.platform().p2mFrameList());
        try (DirtyBitmap b = new DirtyBitmap(P2M)) {
            assertEquals(P2M - HOLES.size(), d.memory().populated(b));
        }
        assertEquals(3, xen.liveMappings.size(), "the walk's tables are unmapped again");
    }

    @Test
    void aPaeGuestWithALinearP2mIsWalkedFromItsL3() throws Exception {
        FakeXen x = new FakeXen();
        FakeXen.Dom pae = x.addPvGuest("pae", 3000, 1, 4, Set.of(5L));
        x.makeLinearP2m(pae, 4, 0xC100_0000L, 40, 41, 42);
        Domain d = x.hypervisor().domain("pae");
        assertArrayEquals(new long[] {2997, 2998, 2999}, d.platform().p2mFrameList());
        try (PageMapping m = d.memory().mapForRead(new long[] {4, 5, 6}, 0, 3)) {
            assertEquals(List.of(PageType.NOTAB, PageType.XTAB, PageType.NOTAB), List.of(m.type(0), m.type(1), m.type(2)));
        }
    }

    @Test
    void aLinearP2mThatChangesDuringTheMigrationStopsIt() throws Exception {
        xen.makeLinearP2m(dom, 8, 0xFFFF_C900_0000_0000L, 40, 41, 42, 43);
        Domain d = domain();
        d.platform().p2mFrameList();
        try (PageMapping m = d.memory().mapForRead(new long[] {1}, 0, 1)) {
            assertEquals(PageType.NOTAB, m.type(0));
        }
        xen.pokeWord(dom.sharedInfoMfn, 3128, 8, 6); // the guest bumps arch.p2m_generation
        String expected = "pv.p2m domain=pv64: the guest changed its linear p2m (arch.p2m_generation 0x5 -> 0x6) during the migration";
        assertEquals(expected, assertThrows(HypervisorException.class, () -> d.memory().mapForRead(new long[] {1}, 0, 1)).getMessage());
        assertEquals(expected, assertThrows(HypervisorException.class, () -> d.platform().sharedInfo()).getMessage());
    }

    @Test
    void aLinearP2mOverlappingXenOrWithABadRootIsRefused() throws Exception {
        xen.makeLinearP2m(dom, 8, 0xFFFF_8000_0000_0000L, 40, 41, 42, 43);
        HypervisorException e = assertThrows(HypervisorException.class, () -> domain().platform().p2mFrameList());
        assertEquals("pv.map domain=pv64: bad linear p2m range 0xffff800000000000-0xffff800000002fff", e.getMessage());
        FakeXen.putWord(xen.machine.get(dom.sharedInfoMfn), 3120, 8, 0xFFFF_C900_0000_0000L);
        FakeXen.putWord(xen.machine.get(dom.sharedInfoMfn), 3112, 8, 0x3_FFF0L << 12); // a root frame that is not the guest's
        HypervisorException root = assertThrows(HypervisorException.class, () -> domain().platform().p2mFrameList());
        assertEquals("pv.map domain=pv64: cannot map L4 tables of the linear p2m: frame 0x3fff0 gave errno 22 (Invalid argument)",
                root.getMessage());
        assertTrue(xen.liveMappings.isEmpty());
    }

    @Test
    void aCorruptFrameListIsRefusedAndNothingStaysMapped() throws Exception {
        FakeXen.putWord(xen.machine.get(dom.fllMfn), 0, 8, 0x7FFF_FFFFL);
        HypervisorException e = assertThrows(HypervisorException.class, () -> domain().platform().p2mFrameList());
        assertEquals("pv.map domain=pv64: bad mfn 0x7fffffff at index 0 of the p2m frame list list", e.getMessage());
        assertTrue(xen.liveMappings.isEmpty());
    }
}
