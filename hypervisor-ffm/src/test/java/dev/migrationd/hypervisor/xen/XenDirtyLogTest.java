package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Log-dirty rounds through xc_shadow_control / xc_logdirty_control, against {@link FakeXen}. */
class XenDirtyLogTest {

    /** Not a multiple of 64, and more than one hypercall page of bitmap (32768 bits). */
    private static final long P2M = 40_000 + 13;

    private final FakeXen xen = new FakeXen();
    private final FakeXen.Dom dom = xen.addHvm("vm", P2M, 2);

    private Domain domain() throws HypervisorException {
        return xen.hypervisor().domain("vm");
    }

    @Test
    void roundsFetchAndClearWhatWasWrittenSinceTheLastRound() throws Exception {
        DirtyLog log = domain().dirtyLog();
        dom.dirty.set(3); // before enable: not reported
        log.enable();
        assertTrue(log.enabled());
        assertEquals(2, xen.liveBuffers.iterator().next().byteSize() / 4096, "40013 bits need 2 bitmap pages");

        dom.dirty.set(0);
        dom.dirty.set(63);
        dom.dirty.set(64);
        dom.dirty.set((int) P2M - 1);
        try (DirtyBitmap b = new DirtyBitmap(P2M)) {
            b.setAll(); // stale content is overwritten
            assertEquals(4, log.fetchAndClear(b));
            assertEquals(List.of(0L, 63L, 64L, P2M - 1), setBits(b));

            assertEquals(0, log.fetchAndClear(b), "CLEAN cleared Xen's log");
            assertEquals(0, b.cardinality());

            dom.dirty.set(100);
            assertEquals(1, log.peek(b));
            assertEquals(1, log.peek(b), "PEEK does not clear");
            assertEquals(1, log.fetchAndClear(b));
            assertEquals(List.of(100L), setBits(b));
        }
        assertEquals(List.of("xc_shadow_control:2"), xen.calls.stream().filter(c -> c.startsWith("xc_shadow")).toList());
        log.disable();
        assertFalse(log.enabled());
        assertFalse(dom.logdirty);
        assertTrue(xen.liveBuffers.isEmpty(), "the hypercall buffer is freed");
    }

    @Test
    void bitsPastTheP2mAreNeverReported() throws Exception {
        DirtyLog log = domain().dirtyLog();
        log.enable();
        try (DirtyBitmap b = new DirtyBitmap(P2M + 1000)) {
            // the fake sets every bit past p2m_size in Xen's last word, as garbage
            assertEquals(0, log.fetchAndClear(b));
            assertEquals(-1, b.nextSetBit(0));
        }
    }

    @Test
    void theFinalRoundWithTheGuestPausedAsksXenForItsFinalView() throws Exception {
        Domain d = domain();
        d.dirtyLog().enable();
        try (DirtyBitmap b = new DirtyBitmap(P2M)) {
            d.dirtyLog().fetchAndClear(b);
            d.pause();
            d.dirtyLog().fetchAndClear(b);
            d.resume();
            d.dirtyLog().peek(b);
        }
        assertEquals(List.of(0, XenLayouts.XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL, 0), xen.lastLogdirtyModes);
    }

    @Test
    void enableRetriesOnceAfterTurningShadowModeOff() throws Exception {
        dom.logdirty = true; // left over from an earlier, crashed migration: ENABLE fails with EBUSY
        DirtyLog log = domain().dirtyLog();
        log.enable();
        assertEquals(List.of("xc_shadow_control:2", "xc_shadow_control:0", "xc_shadow_control:2"),
                xen.calls.stream().filter(c -> c.startsWith("xc_shadow")).toList());
        assertTrue(log.enabled());
    }

    @Test
    void aFailedEnableFreesTheBufferAndReportsXensError() throws Exception {
        DirtyLog log = domain().dirtyLog();
        xen.fail("xc__hypercall_buffer_alloc_pages", FakeXen.ENOMEM);
        NativeCallException e = assertThrows(NativeCallException.class, log::enable);
        assertEquals("xc__hypercall_buffer_alloc_pages", e.call());
        assertTrue(e.getMessage().endsWith("errno 12 (Cannot allocate memory)"), e.getMessage());

        xen.fail("xc_shadow_control", FakeXen.EPERM, 0, FakeXen.EBUSY); // ENABLE fails, OFF works, ENABLE fails again
        NativeCallException again = assertThrows(NativeCallException.class, log::enable);
        assertEquals(FakeXen.EBUSY, again.errno());
        assertFalse(log.enabled());
        assertTrue(xen.liveBuffers.isEmpty());
    }

    @Test
    void aPvGuestOnAXenWithoutShadowPagingIsRefusedWithTheReasonAndTheAlternatives() throws Exception {
        xen.addPvGuest("pv", 512, 1, 8, java.util.Set.of());
        DirtyLog log = xen.hypervisor().domain("pv").dirtyLog();
        // as Debian's Xen 4.17 answered in the lab: ENABLE_LOGDIRTY fails with EOPNOTSUPP (and OFF would fail with EINVAL)
        xen.fail("xc_shadow_control", XenDirtyLog.EOPNOTSUPP, FakeXen.EINVAL);
        HypervisorException e = assertThrows(HypervisorException.class, log::enable);
        assertEquals("dirtyLog.enable domain=pv: live migration of a PV guest is not possible on this host: PV log-dirty"
                + " needs shadow paging and this Xen was built without it (the hypervisor answered EOPNOTSUPP);"
                + " the guest keeps running here; alternatives: save and restore it (not live), or run it as a PVH or HVM guest",
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertFalse(log.enabled());
        assertTrue(xen.liveBuffers.isEmpty());
        assertEquals(List.of("xc_shadow_control"), xen.calls.stream().filter(c -> c.startsWith("xc_shadow")).toList(),
                "no OFF and retry after EOPNOTSUPP");
    }

    @Test
    void eopnotsuppForAnHvmGuestIsReportedAsXenSaidIt() throws Exception {
        xen.fail("xc_shadow_control", XenDirtyLog.EOPNOTSUPP, 0, XenDirtyLog.EOPNOTSUPP);
        NativeCallException e = assertThrows(NativeCallException.class, domain().dirtyLog()::enable);
        assertEquals(XenDirtyLog.EOPNOTSUPP, e.errno());
    }

    @Test
    void misuseIsRefusedWithAClearMessage() throws Exception {
        DirtyLog log = domain().dirtyLog();
        try (DirtyBitmap b = new DirtyBitmap(P2M); DirtyBitmap small = new DirtyBitmap(P2M - 1)) {
            assertEquals("dirtyLog.fetchAndClear domain=vm: log-dirty mode is not enabled",
                    assertThrows(HypervisorException.class, () -> log.fetchAndClear(b)).getMessage());
            log.enable();
            assertEquals("dirtyLog.enable domain=vm: log-dirty mode is already enabled",
                    assertThrows(HypervisorException.class, log::enable).getMessage());
            assertEquals("dirtyLog.peek domain=vm: bitmap covers 40012 PFNs, the domain has 40013",
                    assertThrows(HypervisorException.class, () -> log.peek(small)).getMessage());
        }
    }

    @Test
    void destroyReleasesTheBuffer() throws Exception {
        Domain d = domain();
        d.dirtyLog().enable();
        d.destroy();
        assertTrue(xen.liveBuffers.isEmpty());
    }

    private static List<Long> setBits(DirtyBitmap b) {
        List<Long> out = new java.util.ArrayList<>();
        for (long p = b.nextSetBit(0); p >= 0; p = b.nextSetBit(p + 1)) {
            out.add(p);
        }
        return out;
    }
}
