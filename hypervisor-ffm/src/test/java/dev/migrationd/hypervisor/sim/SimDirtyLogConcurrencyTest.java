package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Xen's log-dirty contract under real concurrency: two vCPU threads write while the test thread
 * fetches-and-clears; the write journal (tickets from one clock, taken before each store and after each
 * dirty mark) lets the test decide, without timing assumptions, which fetch must report each write.
 */
class SimDirtyLogConcurrencyTest {

    @TempDir
    Path state;

    @Test
    void everyWriteAfterAFetchIsInTheNextFetchAndNothingIsWrittenWhilePaused() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(SimDomainSpec.of("j", 32 * SimTestSupport.MIB, 2, GuestType.HVM, Width.W64,
                    WorkloadSpec.of(160 * SimTestSupport.MIB, 0.25, 0.8, WorkloadSpec.Pattern.RANDOM)).withPaused(true));
            WriteJournal journal = d.enableJournal(400_000);
            long n = d.memory().p2mSize();
            d.dirtyLog().enable();
            long enabled = journal.ticket();
            d.resume();

            List<DirtyBitmap> fetched = new ArrayList<>();
            List<long[]> window = new ArrayList<>(); // {ticket before the fetch, ticket after it}
            for (int k = 0; k < 25; k++) {
                Thread.sleep(k % 5 == 0 ? 0 : 15);
                DirtyBitmap bm = new DirtyBitmap(n);
                long before = journal.ticket();
                d.dirtyLog().fetchAndClear(bm);
                long after = journal.ticket();
                fetched.add(bm);
                window.add(new long[] {before, after});
            }
            d.pause();
            long paused = journal.ticket();
            long hash = d.memoryHash();
            Thread.sleep(60);
            long resumeTicket = journal.ticket();
            assertEquals(hash, d.memoryHash(), "memory changed while paused");
            d.resume();
            SimTestSupport.await("writes after resume", 5000, () -> lastAfter(journal) > resumeTicket);
            d.pause();
            assertFalse(journal.overflowed(), "journal too small for this run");

            int checked = 0;
            int raced = 0;
            for (int v = 0; v < journal.vcpus(); v++) {
                for (int i = 0; i < journal.size(v); i++) {
                    long b = journal.ticketBefore(v, i);
                    long a = journal.ticketAfter(v, i);
                    long pfn = journal.pfn(v, i);
                    assertFalse(a > paused && b < resumeTicket,
                            "vCPU " + v + " wrote pfn " + pfn + " while paused (tickets " + b + ".." + a + ")");
                    if (b < enabled || b > window.getLast()[0]) {
                        continue; // before log-dirty, or after the last fetch began: no fetch is due
                    }
                    // the dirty mark lies between the tickets b (before the store) and a (after the mark):
                    // the first fetch that may hold it ends after b; the first fetch certain to see it
                    // starts after a; the page must be in one of the fetches from the one to the other
                    int first = 0;
                    while (first < window.size() && window.get(first)[1] < b) {
                        first++;
                    }
                    int last = first;
                    while (last < window.size() && window.get(last)[0] < a) {
                        last++;
                    }
                    if (last >= window.size()) {
                        continue; // no fetch began after this write completed: nothing is due yet
                    }
                    boolean found = false;
                    for (int j = first; j <= last && !found; j++) {
                        found = fetched.get(j).get(pfn);
                    }
                    if (last > first) {
                        raced++; // the mark may have landed while a fetch ran
                    }
                    assertTrue(found, "pfn " + pfn + " written between fetch " + (first - 1) + " and fetch " + last
                            + " is in none of fetches " + first + ".." + last + describe(fetched, window, pfn, b, a, enabled));
                    checked++;
                }
            }
            SimTestSupport.LOG.info("event=journal_checked writes={} raced_with_fetch={}", checked, raced);
            assertTrue(checked > 2000, "too few journalled writes to mean anything: " + checked);
            long total = 0;
            for (DirtyBitmap bm : fetched) {
                total += bm.cardinality();
                bm.close();
            }
            assertTrue(total > 0);
        }
    }

    private static String describe(List<DirtyBitmap> fetched, List<long[]> window, long pfn, long b, long a, long enabled) {
        StringBuilder sb = new StringBuilder(" (write tickets " + b + ".." + a + ", log enabled at " + enabled + "; fetches:");
        for (int i = 0; i < Math.min(window.size(), 4); i++) {
            sb.append(' ').append(i).append('=').append(window.get(i)[0]).append("..").append(window.get(i)[1])
                    .append(fetched.get(i).get(pfn) ? "+" : "-");
        }
        return sb.append(')').toString();
    }

    private static long lastAfter(WriteJournal j) {
        long max = 0;
        for (int v = 0; v < j.vcpus(); v++) {
            int s = j.size(v);
            if (s > 0) {
                max = Math.max(max, j.ticketAfter(v, s - 1));
            }
        }
        return max;
    }

    @Test
    void peekDoesNotClearAndDisableStopsTracking() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(SimDomainSpec.of("p", 8 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64,
                    WorkloadSpec.IDLE));
            long n = d.memory().p2mSize();
            try (DirtyBitmap bm = new DirtyBitmap(n)) {
                d.guestWrite(5, 0, 1);
                d.dirtyLog().enable();
                assertEquals(0, d.dirtyLog().fetchAndClear(bm), "writes before enable are not reported");
                d.guestWrite(7, 8, 2);
                d.guestWrite(9, 16, 3);
                assertEquals(2, d.dirtyLog().peek(bm));
                assertEquals(2, d.dirtyLog().fetchAndClear(bm));
                assertTrue(bm.get(7) && bm.get(9));
                assertEquals(0, d.dirtyLog().fetchAndClear(bm));
                d.dirtyLog().disable();
                assertFalse(d.dirtyLog().enabled());
            }
        }
    }
}
