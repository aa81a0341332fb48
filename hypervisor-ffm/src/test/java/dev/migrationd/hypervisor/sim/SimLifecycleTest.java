package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.HypervisorProvider;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.TscInfo;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimLifecycleTest {

    @TempDir
    Path state;

    private static SimDomainSpec spec(String name, GuestType type, Width width, WorkloadSpec w) {
        return SimDomainSpec.of(name, 16 * SimTestSupport.MIB, 2, type, width, w);
    }

    @Test
    void providerIsFoundByNameAndOffersThrottleAndRestore() throws Exception {
        try (Hypervisor hv = HypervisorProvider.open("sim", state)) {
            assertEquals("sim", hv.backend());
            assertTrue(hv.capabilities().containsAll(List.of(Capability.THROTTLE, Capability.RESTORE)));
            assertTrue(hv.listDomains().isEmpty());
        }
        HypervisorException e = assertThrows(HypervisorException.class, () -> HypervisorProvider.open("nope", state));
        assertTrue(e.getMessage().contains("sim"), e.getMessage());
    }

    @Test
    void listingsAndLookupsDuringDestroysNeverFailAndNeverShowADestroyedDomain() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            int n = 12;
            for (int i = 0; i < n; i++) {
                hv.create(spec("d" + i, GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
            }
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.Set<String> destroyedNames = java.util.concurrent.ConcurrentHashMap.newKeySet();
            Thread lister = Thread.ofPlatform().start(() -> {
                try {
                    while (!done.get()) {
                        java.util.Set<String> gone = java.util.Set.copyOf(destroyedNames); // destroyed before this listing
                        for (var info : hv.listDomains()) {
                            assertFalse(gone.contains(info.name()), info.name() + " listed after its destroy returned");
                        }
                        for (String name : gone) {
                            assertTrue(hv.findDomain(name).isEmpty(), name + " found after its destroy returned");
                        }
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            for (int i = 0; i < n; i++) {
                hv.domain("d" + i).destroy();
                destroyedNames.add("d" + i);
            }
            done.set(true);
            lister.join();
            if (failure.get() != null) {
                throw new AssertionError("a listing raced with a destroy: " + failure.get(), failure.get());
            }
            assertTrue(hv.listDomains().isEmpty());
        }
    }

    @Test
    void secondOpenOfTheSameStateDirectoryIsRefused() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            HypervisorException e = assertThrows(HypervisorException.class, () -> SimHypervisor.open(state));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
        }
    }

    @Test
    void namesAreUniqueAndDomidsAllocatedInOrderAndNeverReused() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain a = hv.create(spec("a", GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
            SimDomain b = hv.create(spec("b", GuestType.PV, Width.W64, WorkloadSpec.IDLE));
            assertNotEquals(a.info().domid(), b.info().domid());
            HypervisorException dup = assertThrows(HypervisorException.class,
                    () -> hv.create(spec("a", GuestType.HVM, Width.W64, WorkloadSpec.IDLE)));
            assertTrue(dup.getMessage().contains("exists"), dup.getMessage());
            assertThrows(HypervisorException.class, () -> hv.createForRestore(
                    new DomainShape("b", UUID.randomUUID(), 4096, 1, GuestType.HVM, Width.W64)));
            assertThrows(IllegalArgumentException.class,
                    () -> hv.create(spec("../x", GuestType.HVM, Width.W64, WorkloadSpec.IDLE)));
            List<DomainInfo> list = hv.listDomains();
            assertEquals(List.of("a", "b"), list.stream().map(DomainInfo::name).toList());
            assertEquals(a, hv.findDomain(a.info().domid()).orElseThrow());
            int bid = b.info().domid();
            b.destroy();
            assertFalse(Files.exists(state.resolve("sim/b")), "destroy removes the domain's files");
            assertThrows(HypervisorException.class, b::info);
            SimDomain c = hv.create(spec("c", GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
            assertTrue(c.info().domid() > bid, "a destroyed domain's id is not handed out again at once");
        }
    }

    @Test
    void failedOrInterruptedCreateLeavesNothingBehind() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            // 8 pages: a valid memory size, too small for a sim guest's layout
            HypervisorException e = assertThrows(HypervisorException.class,
                    () -> hv.create(SimDomainSpec.of("tiny", 8 * 4096, 1, GuestType.PV, Width.W64, WorkloadSpec.IDLE)));
            assertTrue(e.getMessage().contains("too small"), e.getMessage());
            assertFalse(Files.exists(state.resolve("sim/tiny")));
            assertTrue(hv.listDomains().isEmpty());
        }
        // a crash in the middle of a create leaves a .creating- directory: the next open removes it
        Path partial = Files.createDirectories(state.resolve("sim/" + SimHypervisor.CREATING_PREFIX + "half"));
        Files.writeString(partial.resolve("memory"), "junk");
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            assertFalse(Files.exists(partial));
            assertTrue(hv.listDomains().isEmpty());
        }
    }

    @Test
    void restoreOfAGuestLargerThanTheFreeSpaceIsRefused() throws Exception {
        long pages = dev.migrationd.protocol.StreamLimits.MAX_P2M_SIZE; // 1 TiB
        long free = Files.getFileStore(SimMemoryDir.DEFAULT_SHM).getUsableSpace();
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            DomainShape huge = new DomainShape("huge", UUID.randomUUID(), pages, 1, GuestType.HVM, Width.W64);
            if (free < huge.memoryBytes()) {
                HypervisorException e = assertThrows(HypervisorException.class, () -> hv.createForRestore(huge));
                assertTrue(e.getMessage().contains("memory is short"), e.getMessage());
                assertFalse(Files.exists(state.resolve("sim/huge")));
            } else {
                hv.createForRestore(huge).destroy(); // this host has the room: the restore may go ahead
            }
        }
    }

    @Test
    void restoreTimeStateIsWrittenOnceAtCompleteRestoreAndAfterwardsAtOnce() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            var d = hv.createForRestore(new DomainShape("r", UUID.randomUUID(), 4096, 1, GuestType.HVM, Width.W64));
            Path dir = state.resolve("sim/r");
            assertEquals(4096L * 4096, Files.size(((SimDomain) d).memoryFile()));
            var restored = new TscInfo(1, 123_456_789L, 2_000_000, 7);
            d.platform().setTscInfo(restored);
            assertNotEquals(restored, SimMetadata.load(dir).tsc, "during a restore a setter writes nothing yet");
            d.completeRestore();
            assertEquals(restored, SimMetadata.load(dir).tsc, "completeRestore makes the restored state durable");
            var later = new TscInfo(1, 5L, 2_000_000, 8);
            d.platform().setTscInfo(later);
            assertEquals(later, SimMetadata.load(dir).tsc, "after the restore a setter persists at once again");
        }
    }

    @Test
    void hvmGuestHasIdentityP2mMagicPfnsAndAWellFormedContext() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(spec("h", GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
            long n = d.memory().p2mSize();
            assertEquals(4096, n);
            try (DirtyBitmap bm = new DirtyBitmap(n)) {
                assertEquals(n, d.memory().populated(bm), "identity p2m: every PFN populated");
            }
            Map<Integer, Long> params = d.platform().hvmParams();
            assertEquals(Map.of(1, n - 1, 5, n - 3, 6, n - 2), params);
            byte[] ctx = d.platform().hvmContext();
            int[] cpus = SimX86.hvmCpuOffsets(ctx, 2);
            assertEquals(2, cpus.length);
            ByteBuffer bb = ByteBuffer.wrap(ctx).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x54381286, bb.getInt(8), "HEADER magic");
            assertEquals(0x60000010L, bb.getLong(cpus[0] + 656), "cr0 reset value");
            assertEquals(0, bb.getLong(ctx.length - 8), "END record");
            assertThrows(HypervisorException.class, () -> d.platform().pvVcpuContext(0));
        }
    }

    @Test
    void pvGuestHasHolesTypedPinnedPageTablesAndAP2mFrameList() throws Exception {
        for (Width w : Width.values()) {
            try (SimHypervisor hv = SimHypervisor.open(state.resolve(w.name()))) {
                SimDomain d = hv.create(spec("p", GuestType.PV, w, WorkloadSpec.IDLE));
                SimLayout layout = d.layout();
                long n = d.memory().p2mSize();
                long holes = 0;
                for (long pfn = 0; pfn < n; pfn++) {
                    holes += layout.isHole(pfn) ? 1 : 0;
                }
                assertTrue(holes > 0, "a PV guest has p2m holes");
                try (DirtyBitmap bm = new DirtyBitmap(n)) {
                    assertEquals(n - holes, d.memory().populated(bm));
                }
                long hole = layout.dataStart() + SimLayout.HOLE_PERIOD - 1;
                long top = SimX86.pvCr3Pfn(w, d.platform().pvVcpuContext(0));
                long[] pfns = {hole, top, top + 1, layout.p2mFirst(), layout.dataPfn(0)};
                try (GuestMemory.PageMapping m = d.memory().mapForRead(pfns, 0, pfns.length)) {
                    assertEquals(PageType.XTAB, m.type(0), "unpopulated PFN maps as XTAB");
                    assertThrows(IllegalStateException.class, () -> m.page(0));
                    assertEquals(w == Width.W64 ? PageType.L4TAB_PINNED : PageType.L3TAB_PINNED, m.type(1));
                    assertEquals(w == Width.W64 ? PageType.L3TAB : PageType.L2TAB, m.type(2));
                    assertEquals(PageType.NOTAB, m.type(3));
                    assertEquals(PageType.NOTAB, m.type(4));
                    // the top table's first entry points at the next level, in PFN form, present
                    long pte = m.page(1).get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0);
                    assertEquals(top + 1, pte >>> 12);
                    assertEquals(1, pte & 1);
                }
                long[] frames = d.platform().p2mFrameList();
                assertEquals((n + 4096 / w.bytes() - 1) / (4096 / w.bytes()), frames.length);
                assertEquals(SimX86.pvContextSize(w), d.platform().pvVcpuContext(1).length);
                assertEquals(128, d.platform().pvExtendedContext(0).length);
                assertEquals(4096, d.platform().sharedInfo().length);
                assertThrows(HypervisorException.class, () -> d.platform().hvmContext());
            }
        }
    }

    @Test
    void restoreSettersRejectBadInputAndNeedAPausedDomain() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain running = hv.create(spec("r", GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
            MemorySegment page = MemorySegment.ofArray(new byte[4096]);
            HypervisorException e = assertThrows(HypervisorException.class,
                    () -> running.memory().writePage(2, PageType.NOTAB, page));
            assertTrue(e.getMessage().contains("paused"), e.getMessage());
            var d = hv.createForRestore(new DomainShape("new", UUID.randomUUID(), 4096, 1, GuestType.HVM, Width.W64));
            assertEquals(DomainState.PAUSED, d.info().state());
            try (DirtyBitmap bm = new DirtyBitmap(4096)) {
                assertEquals(0, d.memory().populated(bm), "a domain for restore starts empty");
            }
            assertThrows(HypervisorException.class, () -> d.memory().writePage(4096, PageType.NOTAB, page));
            assertThrows(HypervisorException.class, () -> d.memory().writePage(3, PageType.L1TAB, page));
            assertThrows(HypervisorException.class,
                    () -> d.memory().writePage(3, PageType.NOTAB, MemorySegment.ofArray(new byte[100])));
            assertThrows(HypervisorException.class, () -> d.platform().setHvmContext(new byte[40]));
            byte[] twoCpus = SimX86.hvmContext(2, 0);
            e = assertThrows(HypervisorException.class, () -> d.platform().setHvmContext(twoCpus));
            assertTrue(e.getMessage().contains("vCPU 1"), e.getMessage());
            assertThrows(HypervisorException.class,
                    () -> d.memory().mapForRead(new long[] {1, 2}, 1, 2));
            d.memory().populateOnly(7, PageType.XALLOC);
            d.memory().populateOnly(8, PageType.BROKEN);
            try (GuestMemory.PageMapping m = d.memory().mapForRead(new long[] {7, 8, 9}, 0, 3)) {
                assertEquals(PageType.NOTAB, m.type(0));
                assertEquals(PageType.BROKEN, m.type(1));
                assertEquals(PageType.XTAB, m.type(2));
            }
            assertArrayEquals(new byte[4096], d.memory().mapForRead(new long[] {7}, 0, 1).page(0).toArray(
                    java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void workloadRunsOnlyWhileRunning() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(spec("w", GuestType.PV, Width.W32,
                    WorkloadSpec.of(8 * SimTestSupport.MIB, 0.5, 0.5, WorkloadSpec.Pattern.RANDOM)));
            SimTestSupport.await("the workload to write", 5000, () -> SimTestSupport.counter(d) > 100);
            d.pause();
            long c = d.workloadCounter();
            long h = d.memoryHash();
            Thread.sleep(50);
            assertEquals(c, d.workloadCounter());
            assertEquals(h, d.memoryHash());
            d.resume();
            SimTestSupport.await("the workload to continue", 5000, () -> SimTestSupport.counter(d) > c + 100);
        }
    }
}
