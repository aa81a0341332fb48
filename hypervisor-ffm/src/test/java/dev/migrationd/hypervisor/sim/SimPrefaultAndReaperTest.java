package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.HypervisorProvider;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sim's prefault option (restores write into memory that takes no page fault) and its reaper. */
class SimPrefaultAndReaperTest {

    @TempDir
    Path state;

    private static final int PAGES = 4096;

    @Test
    void prefaultedRestoreMemoryIsAllThereBeforeThePagesArriveAndTakesNoPageFaults() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            Measured fresh = restoreAndWriteEveryPage(hv, "fresh");
            hv.setPrefault(true);
            Measured prefaulted = restoreAndWriteEveryPage(hv, "prefaulted");
            assertEquals((long) PAGES * 4096, prefaulted.residentBeforeWrites(), "prefault: every page in RAM before the stream");
            assertTrue(prefaulted.faults() < PAGES / 10, "prefaulted memory: (almost) no faults expected, got " + prefaulted.faults());
            assertTrue(fresh.faults() <= PAGES + PAGES / 10, "at most one fault per page without prefault, got " + fresh.faults());
        }
    }

    @Test
    void withoutPrefaultARestorePopulatesItsMemoryAheadOnAnotherThreadWhileNobodyWrites() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            long pages = (64L << 20) / 4096; // several populate chunks
            SimDomain d = (SimDomain) hv.createForRestore(new DomainShape("ahead", UUID.randomUUID(), pages, 1, GuestType.HVM, Width.W64));
            try {
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (d.residentBytes() < pages * 4096 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertEquals(pages * 4096, d.residentBytes(), "the sim-populate thread brought every page in, no write needed");
            } finally {
                d.destroy();
            }
            hv.awaitReaped();
        }
    }

    @Test
    void aRestoreDestroyedWhilePopulatingStopsTheWalkBeforeItsMemoryIsUnmapped() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            for (int round = 0; round < 5; round++) {
                SimDomain d = (SimDomain) hv.createForRestore(new DomainShape("cut" + round, UUID.randomUUID(),
                        (512L << 20) / 4096, 1, GuestType.HVM, Width.W64));
                Thread.sleep(round * 3L);
                d.destroy();
            }
            hv.awaitReaped(); // a walk still using a mapping would make its unmap fail (closing a shared arena in use)
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (populateThreads() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, populateThreads(), "no sim-populate thread outlives its domain");
            try (Stream<Path> left = Files.list(state.resolve("sim"))) {
                assertEquals(0, left.filter(p -> p.getFileName().toString().startsWith(SimHypervisor.DESTROYING_PREFIX)).count(),
                        "every destroyed domain was freed");
            }
        }
    }

    private static long populateThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("sim-populate")).count();
    }

    private record Measured(long residentBeforeWrites, long faults) {
    }

    /** Builds a domain for restore, then writes every page from this thread, counting this thread's minor faults. */
    private static Measured restoreAndWriteEveryPage(SimHypervisor hv, String name) throws Exception {
        SimDomain d = (SimDomain) hv.createForRestore(new DomainShape(name, UUID.randomUUID(), PAGES, 1, GuestType.HVM, Width.W64));
        try (Arena a = Arena.ofConfined()) {
            long resident = d.residentBytes();
            MemorySegment page = a.allocate(4096);
            page.fill((byte) 0x5a);
            d.memory().writePage(0, PageType.NOTAB, page); // warm the path (class loading, first JIT)
            long before = minorFaultsOfThisThread();
            for (long pfn = 0; pfn < PAGES; pfn++) {
                d.memory().writePage(pfn, PageType.NOTAB, page);
            }
            return new Measured(resident, minorFaultsOfThisThread() - before);
        } finally {
            d.destroy();
        }
    }

    /** Field 10 (minflt) of /proc/thread-self/stat, after the command name. */
    private static long minorFaultsOfThisThread() throws IOException {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[7]);
    }

    @Test
    void providerOptionsAreCheckedAndPrefaultIsPassedOn() throws Exception {
        try (Hypervisor hv = HypervisorProvider.open("sim", state, Map.of("prefault", "true"))) {
            assertTrue(((SimHypervisor) hv).prefault());
        }
        HypervisorException unknown = assertThrows(HypervisorException.class,
                () -> HypervisorProvider.open("sim", state, Map.of("hugepages", "true")));
        assertTrue(unknown.getMessage().contains("no option 'hugepages'"), unknown.getMessage());
        HypervisorException bad = assertThrows(HypervisorException.class,
                () -> HypervisorProvider.open("sim", state, Map.of("prefault", "yes")));
        assertTrue(bad.getMessage().contains("use true or false"), bad.getMessage());
    }

    @Test
    void aDestroyedDomainIsGoneAtOnceAndItsFilesOnceReaped() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            for (int round = 0; round < 3; round++) { // the same name again at once: no clash with what is being reaped
                SimDomain d = hv.create(SimDomainSpec.of("again", 16L << 20, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
                d.destroy();
                assertTrue(hv.findDomain("again").isEmpty(), "gone from lookups when destroy returns");
                assertFalse(Files.exists(state.resolve("sim/again")), "its directory is renamed away at once");
            }
            hv.awaitReaped();
            try (Stream<Path> left = Files.list(state.resolve("sim"))) {
                assertEquals(0, left.filter(p -> p.getFileName().toString().startsWith(SimHypervisor.DESTROYING_PREFIX)).count(),
                        "the reaper removed every destroyed domain's files");
            }
        }
    }
}
