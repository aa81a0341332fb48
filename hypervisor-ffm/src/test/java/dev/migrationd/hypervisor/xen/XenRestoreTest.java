package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The restore sequence, including destroy-on-failure, against {@link FakeXen}. */
class XenRestoreTest {

    private static final UUID ID = UUID.fromString("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    private static final DomainShape SHAPE = new DomainShape("incoming", ID, 0x40000, 4, GuestType.HVM, Width.W64);

    private final FakeXen xen = new FakeXen();

    @Test
    void buildsAPausedHvmDomainInLibxlsOrder() throws Exception {
        Domain d = xen.hypervisor().createForRestore(SHAPE);

        assertEquals(List.of("xc_domain_create", "xc_domain_max_vcpus", "xc_domain_setmaxmem",
                "xc_set_paging_mempool_size", "xs_write"), xen.calls.stream().filter(c -> !c.equals("xc_domain_getinfolist")).toList());
        FakeXen.Dom dom = xen.domains.lastEntry().getValue();
        var l = XenLayouts.XEN_DOMCTL_CREATEDOMAIN;
        MemorySegment cfg = MemorySegment.ofArray(dom.createConfig);
        assertEquals(XenLayouts.XEN_DOMCTL_CDF_HVM | XenLayouts.XEN_DOMCTL_CDF_HAP, cfg.get(JAVA_INT_UNALIGNED, XenLayouts.offset(l, "flags")));
        assertEquals(4, cfg.get(JAVA_INT_UNALIGNED, XenLayouts.offset(l, "max_vcpus")));
        assertEquals(-1, cfg.get(JAVA_INT_UNALIGNED, XenLayouts.offset(l, "max_grant_frames")));
        assertEquals(0x3FF, cfg.get(JAVA_INT_UNALIGNED, XenLayouts.offset(l, "arch", "emulation_flags")));
        assertEquals(ID, dom.uuid, "the handle carries the source's UUID");
        assertEquals(4, dom.maxVcpus);
        assertEquals(0x40000L * 4 + 1024, dom.maxMemKb);
        assertEquals(4L * (256 * 4 + 2 * 1024) * 1024, dom.pagingPool, "libxl's default for 1 GiB and 4 vCPUs");
        assertEquals("incoming", xen.xenstore.get("/local/domain/" + dom.domid + "/name"));
        assertEquals(DomainState.PAUSED, d.info().state());
        assertEquals("incoming", d.info().name());
        assertEquals(SHAPE, d.info().shape(), "a domain being restored reports the incoming shape");
    }

    @Test
    void pagesArePopulatedOnceAsTheyArriveAndWrittenThroughAWritableMapping() throws Exception {
        Domain d = xen.hypervisor().createForRestore(SHAPE);
        FakeXen.Dom dom = xen.domains.lastEntry().getValue();
        xen.calls.clear();

        d.memory().writePage(0x1234, PageType.NOTAB, MemorySegment.ofArray(FakeXen.pattern(0x1234, 9)));
        d.memory().writePage(0x1234, PageType.NOTAB, MemorySegment.ofArray(FakeXen.pattern(0x1234, 10))); // a later round
        d.memory().populateOnly(0x2000, PageType.XALLOC);
        d.memory().populateOnly(0x2001, PageType.BROKEN);
        d.memory().populateOnly(0x1234, PageType.XTAB); // invalid after all: memory given back
        d.memory().populateOnly(0x3000, PageType.XTAB); // never populated: nothing to do

        assertEquals(List.of("xc_domain_populate_physmap_exact", "xenforeignmemory_map", "xenforeignmemory_unmap",
                "xenforeignmemory_map", "xenforeignmemory_unmap",
                "xc_domain_populate_physmap_exact",
                "xc_domain_populate_physmap_exact", "xc_set_broken_page_p2m",
                "xc_domain_decrease_reservation_exact"), xen.calls);
        assertEquals(List.of(0x2000L, 0x2001L), List.copyOf(dom.pages.keySet()));
        assertTrue(dom.broken.contains(0x2001L));
        assertTrue(xen.liveMappings.isEmpty());
    }

    @Test
    void theWrittenBytesLandInTheGuest() throws Exception {
        Domain d = xen.hypervisor().createForRestore(SHAPE);
        FakeXen.Dom dom = xen.domains.lastEntry().getValue();
        d.memory().writePage(77, PageType.NOTAB, MemorySegment.ofArray(FakeXen.pattern(77, 3)));
        assertArrayEquals(FakeXen.pattern(77, 3), dom.pages.get(77L));
    }

    @Test
    void badPagesAreRefused() throws Exception {
        Domain d = xen.hypervisor().createForRestore(SHAPE);
        assertThrows(IllegalArgumentException.class, () -> d.memory().writePage(1, PageType.NOTAB, MemorySegment.ofArray(new byte[4095])));
        HypervisorException pt = assertThrows(HypervisorException.class,
                () -> d.memory().writePage(1, PageType.L1TAB, MemorySegment.ofArray(new byte[4096])));
        assertTrue(pt.getMessage().contains("not valid for an HVM guest"), pt.getMessage());
        HypervisorException far = assertThrows(HypervisorException.class,
                () -> d.memory().writePage(0x40000, PageType.NOTAB, MemorySegment.ofArray(new byte[4096])));
        assertEquals("memory domain=incoming: pfn 0x40000 outside the p2m of 262144 PFNs", far.getMessage());
        assertThrows(IllegalArgumentException.class, () -> d.memory().populateOnly(1, PageType.NOTAB));
    }

    @Test
    void aFailureHalfwayDestroysTheDomainAndKeepsTheFirstError() throws Exception {
        xen.fail("xc_domain_setmaxmem", FakeXen.ENOMEM);
        var hv = xen.hypervisor();

        NativeCallException e = assertThrows(NativeCallException.class, () -> hv.createForRestore(SHAPE));

        assertEquals("xc_domain_setmaxmem", e.call());
        assertTrue(xen.domains.isEmpty(), "nothing half-built is left");
        assertTrue(xen.calls.contains("xc_domain_destroy"));
        assertTrue(xen.xenstore.isEmpty());
    }

    @Test
    void aFailedDestroyAfterAFailureIsAttachedNotThrownInstead() throws Exception {
        xen.fail("xs_write", FakeXen.EPERM);
        xen.fail("xc_domain_destroy", FakeXen.EBUSY);

        NativeCallException e = assertThrows(NativeCallException.class, () -> xen.hypervisor().createForRestore(SHAPE));

        assertEquals("xs_write", e.call());
        assertEquals(1, e.getSuppressed().length);
        assertSame(NativeCallException.class, e.getSuppressed()[0].getClass());
        assertEquals("xc_domain_destroy", ((NativeCallException) e.getSuppressed()[0]).call());
    }

    @Test
    void theCallerDestroysAFailedRestore() throws Exception {
        Domain d = xen.hypervisor().createForRestore(SHAPE);
        d.memory().writePage(1, PageType.NOTAB, MemorySegment.ofArray(new byte[4096]));
        d.destroy();
        assertTrue(xen.domains.isEmpty());
        assertTrue(xen.xenstore.isEmpty());
    }

    @Test
    void nameClashesAreRefusedBeforeAnythingIsCreated() throws Exception {
        xen.addHvm("incoming", 16, 1);
        HypervisorException clash = assertThrows(HypervisorException.class, () -> xen.hypervisor().createForRestore(SHAPE));
        assertEquals("createForRestore domain=incoming: a domain with this name already exists", clash.getMessage());
        assertFalse(xen.calls.contains("xc_domain_create"));
    }
}
