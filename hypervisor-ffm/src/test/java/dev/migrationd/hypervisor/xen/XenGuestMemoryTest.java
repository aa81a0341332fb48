package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.GuestMemory.PageMapping;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.PageType;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Page types, populated PFNs and batched foreign mappings, against {@link FakeXen}. */
class XenGuestMemoryTest {

    private static final long P2M = 3000;

    private final FakeXen xen = new FakeXen();
    private final FakeXen.Dom dom = xen.addHvm("vm", P2M, 1);

    {
        for (long pfn = 0; pfn < P2M; pfn++) {
            if (pfn % 10 != 7) { // every tenth page (…7) is a hole
                dom.pages.put(pfn, FakeXen.pattern(pfn, 1));
            }
        }
        dom.broken.add(5L);
    }

    private GuestMemory memory() throws HypervisorException {
        return xen.hypervisor().domain("vm").memory();
    }

    @Test
    void populatedMarksEveryPageWithMemoryIncludingBrokenOnes() throws Exception {
        try (DirtyBitmap b = new DirtyBitmap(P2M)) {
            b.setAll();
            long n = memory().populated(b);
            assertEquals(P2M - P2M / 10, n);
            assertEquals(n, b.cardinality());
            assertTrue(b.get(5), "a broken page is populated: the stream sends it as BROKEN");
            assertTrue(!b.get(7) && !b.get(2997));
        }
        assertEquals(3, xen.calls.stream().filter("xc_get_pfn_type_batch"::equals).count(), "1024 + 1024 + 952 PFNs");
    }

    @Test
    void aBatchIsOneMapCallOverItsDataPagesWithViewsInBatchOrder() throws Exception {
        long[] pfns = new long[1100];
        for (int i = 0; i < pfns.length; i++) {
            pfns[i] = (i * 7L) % P2M; // scattered
        }
        int offset = 50;
        int count = 1024;
        try (PageMapping m = memory().mapForRead(pfns, offset, count)) {
            assertEquals(count, m.count());
            for (int i = 0; i < count; i++) {
                long pfn = pfns[offset + i];
                assertEquals(pfn, m.pfn(i));
                if (pfn == 5) {
                    assertEquals(PageType.BROKEN, m.type(i));
                } else if (pfn % 10 == 7) {
                    assertEquals(PageType.XTAB, m.type(i));
                    int j = i;
                    assertThrows(IllegalStateException.class, () -> m.page(j));
                } else {
                    assertEquals(PageType.NOTAB, m.type(i));
                    assertArrayEquals(FakeXen.pattern(pfn, 1), m.page(i).toArray(JAVA_BYTE), "pfn " + pfn);
                }
            }
            assertEquals(1, xen.liveMappings.size());
        }
        assertEquals(1, xen.mapCallSizes.size(), "one xenforeignmemory_map call per batch");
        assertTrue(xen.mapCallSizes.getFirst() < 1024, "holes and broken pages are not mapped");
        assertTrue(xen.liveMappings.isEmpty(), "closing the mapping unmaps it");
    }

    @Test
    void aPageThatCannotBeMappedBecomesXtab() throws Exception {
        xen.mapErrors.add(12L); // e.g. ballooned out between the type query and the map
        try (PageMapping m = memory().mapForRead(new long[] {11, 12, 13}, 0, 3)) {
            assertEquals(List.of(PageType.NOTAB, PageType.XTAB, PageType.NOTAB), List.of(m.type(0), m.type(1), m.type(2)));
            assertArrayEquals(FakeXen.pattern(13, 1), m.page(2).toArray(JAVA_BYTE));
        }
    }

    @Test
    void aBatchWithoutDataPagesMapsNothing() throws Exception {
        try (PageMapping m = memory().mapForRead(new long[] {7, 17, 5}, 0, 3)) {
            assertEquals(List.of(PageType.XTAB, PageType.XTAB, PageType.BROKEN), List.of(m.type(0), m.type(1), m.type(2)));
        }
        assertTrue(xen.mapCallSizes.isEmpty());
    }

    @Test
    void badBatchesAreRefusedBeforeAnyCall() throws Exception {
        GuestMemory mem = memory();
        xen.calls.clear();
        assertThrows(IllegalArgumentException.class, () -> mem.mapForRead(new long[1025], 0, 1025));
        assertThrows(IllegalArgumentException.class, () -> mem.mapForRead(new long[1], 0, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> mem.mapForRead(new long[4], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> mem.mapForRead(new long[] {P2M}, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> mem.mapForRead(new long[] {-1}, 0, 1));
        assertTrue(xen.calls.stream().noneMatch(c -> c.equals("xenforeignmemory_map") || c.equals("xc_get_pfn_type_batch")));
    }

    @Test
    void aFailedMapCallIsReportedWithErrno() throws Exception {
        xen.fail("xenforeignmemory_map", FakeXen.ENOMEM);
        NativeCallException e = assertThrows(NativeCallException.class, () -> memory().mapForRead(new long[] {1, 2}, 0, 2));
        assertEquals("xenforeignmemory_map", e.call());
        assertTrue(e.getMessage().contains("errno 12 (Cannot allocate memory)"), e.getMessage());
        assertTrue(xen.liveMappings.isEmpty());
    }

    @Test
    void anExistingDomainCannotBeWritten() throws Exception {
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> memory().writePage(1, PageType.NOTAB, java.lang.foreign.MemorySegment.ofArray(new byte[4096])));
        assertEquals("memory.writePage domain=vm: only a domain built by createForRestore can be written", e.getMessage());
    }
}
