package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.StreamRestore;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The backend's use of libxl (through {@link FakeXen.FakeToolstack}): a PVH guest is suspended and resumed
 * cooperatively, its configuration is libxl's and checked, an incoming guest is built by libxl from the stream
 * written into a pipe, and every failure leaves the guest running or nothing built.
 */
class XenToolstackTest {

    private final FakeXen xen = new FakeXen();
    private final FakeXen.FakeToolstack libxl = xen.new FakeToolstack();
    private final XenHypervisor hv = xen.hypervisor(libxl);
    private final ToolstackConfig config = new ToolstackConfig("{\"c_info\": {\"type\": \"pvh\"}}");

    private static boolean suspended(FakeXen.Dom d) {
        return (d.flags & XenLayouts.XEN_DOMINF_SHUTDOWN) != 0;
    }

    @Test
    void aPvhGuestIsSuspendedCooperativelyAndResumedWithSuspendCancel() throws Exception {
        FakeXen.Dom g = xen.addPvh("g2", 128, 1);
        Domain d = hv.domain("g2");
        d.pause();
        assertTrue(xen.calls.contains("libxl_domain_suspend_only"));
        assertFalse(xen.calls.contains("xc_domain_pause"), "suspended, not paused");
        assertTrue(suspended(g));
        d.resume();
        assertTrue(xen.calls.contains("libxl_domain_resume"));
        assertFalse(xen.calls.contains("xc_domain_unpause"));
        assertFalse(suspended(g));
        assertEquals(DomainState.RUNNING, d.info().state());
    }

    @Test
    void aFailedSuspendIsReportedAndTheGuestGoesOnRunning() throws Exception {
        FakeXen.Dom g = xen.addPvh("g2", 128, 1);
        xen.fail("libxl_domain_suspend_only", FakeXen.EBUSY);
        Domain d = hv.domain("g2");
        HypervisorException e = assertThrows(HypervisorException.class, d::pause);
        assertTrue(e.getMessage().contains("libxl_domain_suspend_only"), e.getMessage());
        assertFalse(suspended(g));
        assertFalse(g.paused());
        d.resume(); // what the engine's cleanup does: a guest that was never suspended is just unpaused
        assertFalse(xen.calls.contains("libxl_domain_resume"), "nothing to cancel");
    }

    @Test
    void aFailedResumeIsReportedAndTheGuestStaysSuspendedForARetry() throws Exception {
        FakeXen.Dom g = xen.addPvh("g2", 128, 1);
        Domain d = hv.domain("g2");
        d.pause();
        xen.fail("libxl_domain_resume", FakeXen.EINVAL);
        assertThrows(HypervisorException.class, d::resume);
        assertTrue(suspended(g));
        d.resume();
        assertFalse(suspended(g));
    }

    /** A running 64-bit PV guest whose vCPU 0 has a value in rdx that is no frame of it, as a running guest's would. */
    private FakeXen.Dom runningPvGuest() {
        FakeXen.Dom g = xen.addPvGuest("pv", 600, 1, 8, java.util.Set.of());
        var o = PvCanonical.VcpuOffsets.of(Width.W64);
        byte[] ctx = new byte[0x1430];
        o.setWord(MemorySegment.ofArray(ctx), o.edx(), 0x4000_0000_0000_0000L);
        o.setWord(MemorySegment.ofArray(ctx), o.cr(3), g.pfnToMfn.get(10L) << 12);
        g.vcpuContexts.put(0, ctx);
        g.startInfoMfn = g.pfnToMfn.get(30L);
        return g;
    }

    @Test
    void aPvGuestIsSuspendedCooperativelySoThatVcpu0CarriesItsStartInfoFrame() throws Exception {
        FakeXen.Dom g = runningPvGuest();
        Domain d = hv.domain("pv");
        d.pause();
        assertTrue(xen.calls.contains("libxl_domain_suspend_only"), "suspended as xl save does");
        assertFalse(xen.calls.contains("xc_domain_pause"), "suspended, not paused");
        assertTrue(suspended(g));
        var o = PvCanonical.VcpuOffsets.of(Width.W64);
        assertEquals(30, o.word(MemorySegment.ofArray(d.platform().pvVcpuContext(0)), o.edx()),
                "the start_info frame as a PFN of the stream");
        d.resume();
        assertTrue(xen.calls.contains("libxl_domain_resume"), "a failed or --keep-running save cancels the suspend");
        assertFalse(suspended(g));
        assertTrue(hv.domain("pv").toolstackConfig().isPresent(), "the PV guest's libxl configuration is at hand");
    }

    @Test
    void aPvGuestOnlyPausedHasNoStartInfoFrameInRdxAndItsSaveIsRefusedByName() throws Exception {
        runningPvGuest();
        XenHypervisor bare = xen.hypervisor();
        Domain d = bare.domain("pv");
        d.pause();
        assertFalse(xen.calls.contains("libxl_domain_suspend_only"));
        HypervisorException e = assertThrows(HypervisorException.class, () -> d.platform().pvVcpuContext(0));
        assertTrue(e.getMessage().contains("vcpu0's start_info") && e.getMessage().contains("0x4000000000000000"),
                e.getMessage());
    }

    @Test
    void aFailedPvSuspendLeavesTheGuestRunning() throws Exception {
        FakeXen.Dom g = runningPvGuest();
        xen.fail("libxl_domain_suspend_only", FakeXen.EBUSY);
        Domain d = hv.domain("pv");
        assertThrows(HypervisorException.class, d::pause);
        assertFalse(suspended(g));
        assertFalse(g.paused());
    }

    @Test
    void hvmGuestsAndAnyGuestWithoutLibxlArePaused() throws Exception {
        xen.addHvm("hvm", 0x100, 1);
        xen.addPv("pv", 0x100, 1, 8);
        xen.addPvh("pvh", 128, 1);
        hv.domain("hvm").pause();
        assertFalse(xen.calls.contains("libxl_domain_suspend_only"));
        assertTrue(hv.domain("hvm").toolstackConfig().isEmpty());

        XenHypervisor bare = xen.hypervisor();
        assertFalse(bare.capabilities().contains(Capability.STREAM_RESTORE));
        assertTrue(hv.capabilities().containsAll(java.util.Set.of(Capability.STREAM_RESTORE, Capability.RENAME)));
        bare.domain("pvh").pause();
        bare.domain("pv").pause();
        assertFalse(xen.calls.contains("libxl_domain_suspend_only"));
        assertTrue(bare.domain("pv").toolstackConfig().isEmpty());
        assertTrue(bare.domain("pvh").toolstackConfig().isEmpty());
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> bare.restoreFromStream("x", UUID.randomUUID(), config));
        assertTrue(e.getMessage().contains("libxl"), e.getMessage());
    }

    @Test
    void thePvhGuestsConfigurationIsLibxlsAndIsChecked() throws Exception {
        xen.addPvh("g2", 128, 1);
        assertTrue(hv.domain("g2").toolstackConfig().orElseThrow().json().contains("\"name\": \"g2\""));
        libxl.configOverride = "{\"a\": " + "[".repeat(ToolstackConfig.MAX_DEPTH + 1);
        HypervisorException e = assertThrows(HypervisorException.class, () -> hv.domain("g2").toolstackConfig());
        assertTrue(e.getMessage().contains("nests deeper"), e.getMessage());
    }

    @Test
    void renameAndDestroyGoThroughLibxl() throws Exception {
        FakeXen.Dom g = xen.addPvh("g2", 128, 1);
        Domain d = hv.domain("g2");
        d.rename("g2--migratedaway");
        assertEquals("g2--migratedaway", hv.findDomain(g.domid).orElseThrow().info().name());
        d.destroy();
        assertTrue(xen.calls.contains("libxl_domain_destroy"));
        assertTrue(hv.findDomain(g.domid).isEmpty());
    }

    /** {@code n} bytes of a libxl stream: the header and LIBXC_CONTEXT every libxl stream begins with, then noise. */
    private static byte[] stream(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        LibxlPreamble.bytes().get(b, 0, LibxlPreamble.BYTES);
        return b;
    }

    @Test
    void libxlHasTheStreamsHeaderBeforeTheFirstByteArrivesSoThatAnEarlyAbortEndsInsideItsHelper() throws Exception {
        StreamRestore r = hv.restoreFromStream("g2", UUID.randomUUID(), config);
        r.abort("the source went silent");
        byte[] preamble = new byte[LibxlPreamble.BYTES];
        LibxlPreamble.bytes().get(preamble);
        assertArrayEquals(preamble, libxl.restoredStream.toByteArray(), "what libxl read before the end of its input");
        assertTrue(hv.findDomain("g2").isEmpty());
    }

    @Test
    void aStreamThatDoesNotBeginAsLibxlsIsRefusedAndNothingIsLeft() throws Exception {
        byte[] noise = new byte[4096];
        new Random(7).nextBytes(noise);
        StreamRestore r = hv.restoreFromStream("g2", UUID.randomUUID(), config);
        HypervisorException e = assertThrows(HypervisorException.class, () -> r.write(ByteBuffer.wrap(noise)));
        assertTrue(e.getMessage().contains("does not begin with a libxl v2 header"), e.getMessage());
        r.abort("refused");
        assertTrue(hv.findDomain("g2").isEmpty());
    }

    @Test
    void libxlBuildsTheIncomingGuestFromTheStreamWrittenIntoThePipeAndLeavesItPaused() throws Exception {
        UUID uuid = UUID.randomUUID();
        byte[] data = stream(700_000);
        try (StreamRestore r = hv.restoreFromStream("g2--incoming", uuid, config)) {
            for (int off = 0; off < data.length; off += 100_000) {
                r.write(ByteBuffer.wrap(data, off, Math.min(100_000, data.length - off)));
            }
            Domain d = r.finish(Duration.ofSeconds(30));
            assertEquals("g2--incoming", d.info().name());
            assertEquals(DomainState.PAUSED, d.info().state());
            assertEquals(d, r.finish(Duration.ofSeconds(1)), "finish again: the same domain");
        }
        assertArrayEquals(data, libxl.restoredStream.toByteArray());
        assertTrue(hv.findDomain("g2--incoming").isPresent(), "a finished restore is not undone by close");
    }

    @Test
    void libxlsFailureMidStreamReachesTheWriterAndNothingIsLeft() throws Exception {
        libxl.restoreFailAfter = 200_000;
        byte[] data = stream(2_000_000);
        StreamRestore r = hv.restoreFromStream("g2", UUID.randomUUID(), config);
        HypervisorException e = assertThrows(HypervisorException.class, () -> r.write(ByteBuffer.wrap(data)));
        assertTrue(e.getMessage().contains("ERROR_FAIL"), "libxl's own error, not just a broken pipe: " + e.getMessage());
        r.abort("stream failed");
        assertTrue(hv.findDomain("g2").isEmpty());
    }

    @Test
    void anAbortMidStreamDestroysWhatLibxlBuiltEvenWhenItSucceeded() throws Exception {
        // the worst case: libxl took the truncated input as complete and built a domain
        UUID uuid = UUID.randomUUID();
        StreamRestore r = hv.restoreFromStream("g2", uuid, config);
        r.write(ByteBuffer.wrap(stream(50_000)));
        r.abort("cancelled");
        r.abort("again");
        assertTrue(xen.calls.contains("libxl_domain_destroy"));
        assertTrue(hv.findDomain("g2").isEmpty());
        assertThrows(IllegalStateException.class, () -> r.write(ByteBuffer.allocate(1)));
    }

    @Test
    void aTakenNameIsRefusedBeforeLibxlStarts() throws Exception {
        xen.addPvh("g2", 128, 1);
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> hv.restoreFromStream("g2", UUID.randomUUID(), config));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertFalse(xen.calls.contains("libxl_domain_create_restore"));
    }

    @Test
    void closingTheBackendClosesLibxl() throws Exception {
        hv.close();
        assertTrue(libxl.closed);
    }
}
