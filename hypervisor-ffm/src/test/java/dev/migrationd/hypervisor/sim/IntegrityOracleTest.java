package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IntegrityOracleTest {

    @TempDir
    Path state;

    @Test
    void hashSeesOneChangedByteAndTreatsHolesAsZeroPages() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(SimDomainSpec.of("h", 4 * SimTestSupport.MIB, 1, GuestType.PV, Width.W64,
                    WorkloadSpec.IDLE).withFill(SimDomainSpec.Fill.RANDOM));
            long h0 = d.memoryHash();
            assertEquals(h0, d.memoryHash(), "deterministic");
            long pfn = d.layout().dataPfn(100);
            d.guestWrite(pfn, 4000, d.memorySegment().get(ValueLayout.JAVA_LONG_UNALIGNED, pfn * 4096 + 4000) ^ 1);
            long h1 = d.memoryHash();
            assertNotEquals(h0, h1);
            // a hole and a populated zero page hash the same
            d.pause();
            long hole = d.layout().dataStart() + SimLayout.HOLE_PERIOD - SimLayout.HOLE_PAGES;
            assertTrue(d.layout().isHole(hole));
            d.memory().writePage(hole, PageType.NOTAB, MemorySegment.ofArray(new byte[4096]));
            assertEquals(h1, d.memoryHash(), "zero page where a hole was");
            byte[] one = new byte[4096];
            one[7] = 1;
            d.memory().writePage(hole, PageType.NOTAB, MemorySegment.ofArray(one));
            assertNotEquals(h1, d.memoryHash(), "a non-zero page where a hole was");
            d.memory().populateOnly(hole, PageType.XTAB);
            assertEquals(h1, d.memoryHash(), "unpopulated again");
        }
    }

    @Test
    void abCheckerAcceptsOneBreakAndRejectsTwo() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(SimDomainSpec.of("ab", 4 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64,
                    WorkloadSpec.of(8 * SimTestSupport.MIB, 1.0, 0, WorkloadSpec.Pattern.AB)));
            SimTestSupport.await("a pass and a half", 5000, () -> SimTestSupport.counter(d) > 1500);
            d.pause();
            var ok = d.checkAb();
            assertTrue(ok.ok(), ok.message());
            long cursor = d.register(0, SimX86.REG_CURSOR);
            // corrupt one page away from the cursor: a second break
            long victim = (cursor + 200) % ok.pages();
            bumpByte0(d, d.layout().dataPfn(victim));
            var bad = d.checkAb();
            assertFalse(bad.ok(), "a lost or doubled page write must be caught");
            assertTrue(bad.breaks().contains(victim) || bad.breaks().contains(victim + 1), bad.toString());
            // not an ab guest: a clear answer, not ok
            SimDomain other = hv.create(SimDomainSpec.of("rnd", 4 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64,
                    WorkloadSpec.IDLE));
            assertFalse(other.checkAb().ok());
        }
    }

    private static void bumpByte0(Domain d, long pfn) throws Exception {
        byte[] page;
        try (GuestMemory.PageMapping m = d.memory().mapForRead(new long[] {pfn}, 0, 1)) {
            page = m.page(0).toArray(ValueLayout.JAVA_BYTE);
        }
        page[0]++;
        d.memory().writePage(pfn, PageType.NOTAB, MemorySegment.ofArray(page));
    }
}
