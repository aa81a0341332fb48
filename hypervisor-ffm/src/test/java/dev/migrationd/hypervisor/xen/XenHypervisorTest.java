package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Listing, lookup, lifecycle and error mapping of the adapter, against {@link FakeXen}. */
class XenHypervisorTest {

    private final FakeXen xen = new FakeXen();

    @Test
    void listsDomainsWithNamesFromXenstoreAndShapesFromXen() throws Exception {
        FakeXen.Dom web = xen.addHvm("web", 0x40000, 4);
        web.flags |= XenLayouts.XEN_DOMINF_PAUSED;
        FakeXen.Dom old = xen.addPv("legacy32", 0x10000, 2, 4);
        FakeXen.Dom anon = xen.addHvm(null, 0x100, 1);
        FakeXen.Dom dying = xen.addHvm("going", 0x100, 1);
        dying.flags |= XenLayouts.XEN_DOMINF_DYING;

        List<DomainInfo> list = xen.hypervisor().listDomains();

        assertEquals(3, list.size(), "the dying domain is left out");
        DomainInfo w = list.get(0);
        assertEquals(new DomainInfo("web", web.domid, web.uuid, 0x40000, 4, GuestType.HVM, Width.W64, DomainState.PAUSED), w);
        DomainInfo p = list.get(1);
        assertEquals(new DomainInfo("legacy32", old.domid, old.uuid, 0x10000, 2, GuestType.PV, Width.W32, DomainState.RUNNING), p);
        assertEquals("domid-" + anon.domid, list.get(2).name(), "a domain without a xenstore name gets a unique placeholder");
    }

    @Test
    void aPvhGuestIsListedAsPvhWithTheMemoryItsToolstackGaveIt() throws Exception {
        FakeXen.Dom g = xen.addPvh("g2", 128, 1);
        DomainInfo info = xen.hypervisor().listDomains().getFirst();
        assertTrue(info.pvh(), "emulation flags LAPIC alone: PVH");
        assertEquals(GuestType.HVM, info.guestType(), "a PVH guest travels in an HVM stream");
        assertEquals(128L << 20, info.memoryBytes(), "memory/static-max, not the highest PFN + 1 (4 GiB)");
        assertEquals(0xfeff9 + 1, info.p2mSize(), "the stream still covers every PFN up to the special pages");
        assertEquals(g.uuid, info.uuid());
    }

    @Test
    void aFullHvmGuestIsNotPvhAndAPvGuestsMemoryIsWhatItHoldsWithoutAStaticMax() throws Exception {
        xen.addHvm("hvm", 0x8000, 1);
        FakeXen.Dom pv = xen.addPv("pv", 0x8000, 1, 8);
        pv.totPages = 0x7f00;
        List<DomainInfo> list = xen.hypervisor().listDomains();
        assertFalse(list.get(0).pvh());
        assertFalse(list.get(1).pvh());
        assertEquals(0x7f00L * 4096, list.get(1).memoryBytes());
    }

    @Test
    void aStaticMaxThatIsNotANumberOrExceedsXensLimitIsIgnored() throws Exception {
        FakeXen.Dom g = xen.addPvh("g", 64, 1);
        long held = g.totPages * 4096;
        for (String bad : List.of("", "12ab", "-5", "0", Long.toString(g.maxPages * 4 + 1), "9".repeat(40))) {
            xen.xenstore.put("/local/domain/" + g.domid + "/memory/static-max", bad);
            assertEquals(held, xen.hypervisor().listDomains().getFirst().memoryBytes(), "static-max \"" + bad + "\"");
        }
        xen.xenstore.put("/local/domain/" + g.domid + "/memory/static-max", " 65536\n");
        assertEquals(64L << 20, xen.hypervisor().listDomains().getFirst().memoryBytes(), "whitespace around a number is fine");
    }

    @Test
    void listingPagesThroughGetinfolistInBatches() throws Exception {
        for (int i = 0; i < 150; i++) {
            xen.addHvm("vm" + i, 16, 1);
        }
        List<DomainInfo> list = xen.hypervisor().listDomains();
        assertEquals(150, list.size());
        for (int i = 0; i < 150; i++) {
            assertEquals("vm" + i, list.get(i).name());
        }
        assertEquals(3, xen.calls.stream().filter("xc_domain_getinfolist"::equals).count(), "64 + 64 + 22");
    }

    @Test
    void findsByNameAndByIdAndPausesResumesDestroys() throws Exception {
        FakeXen.Dom d = xen.addHvm("db", 0x800, 2);
        var hv = xen.hypervisor();
        assertTrue(hv.findDomain("nope").isEmpty());
        assertTrue(hv.findDomain(999).isEmpty());
        Domain byId = hv.findDomain(d.domid).orElseThrow();
        Domain byName = hv.domain("db");
        assertEquals(byId.info(), byName.info());

        byName.pause();
        assertEquals(DomainState.PAUSED, byName.info().state());
        byName.resume();
        assertEquals(DomainState.RUNNING, byName.info().state());
        byName.destroy();
        assertFalse(xen.domains.containsKey(d.domid));
        assertTrue(hv.findDomain("db").isEmpty());
        HypervisorException again = assertThrows(HypervisorException.class, byName::pause);
        assertEquals("pause domain=db: the domain was destroyed through this handle", again.getMessage());
        assertEquals(Set.of(Capability.RESTORE), hv.capabilities());
        assertEquals("xen", hv.backend());
        assertTrue(byName.throttle().isEmpty());
    }

    @Test
    void aFailedCallNamesTheCallItsArgumentsTheReturnCodeAndStrerror() throws Exception {
        FakeXen.Dom d = xen.addHvm("db", 0x800, 2);
        Domain dom = xen.hypervisor().domain("db");
        xen.domains.remove(d.domid); // gone behind our back: Xen answers ESRCH

        NativeCallException e = assertThrows(NativeCallException.class, dom::pause);

        assertEquals("xc_domain_pause", e.call());
        assertEquals(FakeXen.ESRCH, e.errno());
        assertEquals("xc_domain_pause domain=" + d.domid + ": xc_domain_pause(domid=" + d.domid
                + ") returned -1: errno 3 (No such process)", e.getMessage());
        HypervisorException info = assertThrows(HypervisorException.class, dom::info);
        assertEquals("info domain=db: domain id " + d.domid + " no longer exists", info.getMessage());
    }

    @Test
    void aDomainThatDiesWhileBeingListedIsLeftOutButOtherErrorsAreNot() throws Exception {
        xen.addHvm("a", 16, 1);
        xen.addHvm("b", 16, 1);
        xen.fail("xc_domain_maximum_gpfn", FakeXen.ESRCH);
        assertEquals(List.of("b"), xen.hypervisor().listDomains().stream().map(DomainInfo::name).toList());
        xen.fail("xc_domain_maximum_gpfn", FakeXen.EPERM);
        NativeCallException e = assertThrows(NativeCallException.class, () -> xen.hypervisor().listDomains());
        assertEquals(FakeXen.EPERM, e.errno());
    }

    @Test
    void closeClosesEveryPortOnce() throws Exception {
        var hv = xen.hypervisor();
        hv.close();
        hv.close();
        assertEquals(List.of("xs_close", "xenforeignmemory_close", "xc_interface_close"), xen.calls);
    }

    @Test
    void aPvGuestWithoutAUsableSharedInfoFailsClearlyAndLeavesNothingMapped() throws Exception {
        xen.addPv("pv64", 0x1000, 1, 8); // no shared info frame, no p2m
        Domain pv = xen.hypervisor().domain("pv64");
        pv.pause();
        pv.resume();
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> pv.memory().mapForRead(new long[] {1}, 0, 1));
        assertEquals("pv.map domain=pv64: cannot map shared info (mfn 0x0): frame 0x0 gave errno 22 (Invalid argument)",
                e.getMessage());
        assertTrue(xen.liveMappings.isEmpty(), "the M2P mapped before the failure is unmapped again");
        HypervisorException hvm = assertThrows(HypervisorException.class, () -> pv.platform().hvmContext());
        assertEquals("platform.hvmContext domain=pv64: an HVM context of a PV guest does not exist: the guest is PV", hvm.getMessage());
    }
}
