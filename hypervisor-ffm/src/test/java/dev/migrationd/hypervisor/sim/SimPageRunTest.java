package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PageMapping#run: consecutive data pages of a sim mapping as one segment, and only those. */
class SimPageRunTest {

    @TempDir
    Path state;

    @Test
    void consecutivePagesAreOneRunWithTheSameBytesAsThePages() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(SimDomainSpec.of("r", 16L << 20, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE)
                    .withFill(SimDomainSpec.Fill.RANDOM));
            d.pause();
            long[] pfns = {100, 101, 102, 103, 200};
            try (GuestMemory.PageMapping m = d.memory().mapForRead(pfns, 0, pfns.length)) {
                MemorySegment run = m.run(0, 4).orElseThrow(() -> new AssertionError("100..103 are consecutive"));
                assertEquals(4 * 4096, run.byteSize());
                assertTrue(run.isReadOnly());
                for (int i = 0; i < 4; i++) {
                    assertEquals(-1, run.asSlice(i * 4096L, 4096).mismatch(m.page(i)), "page " + i + " of the run");
                }
                assertTrue(m.run(0, 5).isEmpty(), "103 -> 200 is not consecutive");
                assertTrue(m.run(4, 1).isPresent(), "a single page is a run");
                assertThrows(IndexOutOfBoundsException.class, () -> m.run(3, 3));
            }
        }
    }

    @Test
    void pagesWithoutDataBreakARun() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            var d = hv.createForRestore(new dev.migrationd.hypervisor.DomainShape("x", java.util.UUID.randomUUID(), 4096, 1,
                    GuestType.HVM, Width.W64));
            d.memory().writePage(7, dev.migrationd.protocol.PageType.NOTAB, MemorySegment.ofArray(new byte[4096]));
            d.memory().populateOnly(8, dev.migrationd.protocol.PageType.BROKEN);
            d.memory().writePage(9, dev.migrationd.protocol.PageType.NOTAB, MemorySegment.ofArray(new byte[4096]));
            try (GuestMemory.PageMapping m = d.memory().mapForRead(new long[] {7, 8, 9, 10}, 0, 4)) {
                assertTrue(m.run(0, 2).isEmpty(), "8 is broken: no data");
                assertTrue(m.run(2, 2).isEmpty(), "10 is not populated (XTAB)");
                assertTrue(m.run(2, 1).isPresent());
            }
            d.destroy();
        }
    }
}
