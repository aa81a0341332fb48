package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.LogCapture;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Refusals: every one counted, at most BURST logged per window, the rest summed up in one line when it ends. */
class RefusalLogTest {

    final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    final AtomicLong clock = new AtomicLong();

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    static List<String> summaries(LogCapture log) {
        return log.lines().stream().filter(l -> l.contains("event=peer_refusals_not_logged")).toList();
    }

    @Test
    void aFloodIsLoggedInBurstLinesAndOneSummaryAtTheEndOfTheWindow() throws Exception {
        try (LogCapture log = new LogCapture()) {
            RefusalLog r = new RefusalLog(scheduler, clock::get, Duration.ofMillis(300));
            int logged = 0;
            for (int i = 0; i < 1000; i++) {
                logged += r.refused(i % 4 == 0 ? PeerRefusal.HANDSHAKES : PeerRefusal.HANDSHAKES_PER_ADDRESS,
                        "10.0.0." + (i % 7)) ? 1 : 0;
            }
            assertEquals(RefusalLog.BURST, logged);
            assertEquals(250, r.count(PeerRefusal.HANDSHAKES));
            assertEquals(750, r.count(PeerRefusal.HANDSHAKES_PER_ADDRESS));
            // the window's timer writes the summary (the clock the window is measured by does not move here)
            String line = log.await(l -> l.contains("event=peer_refusals_not_logged"), Duration.ofSeconds(5), "the summary");
            assertTrue(line.contains("logged=10 not_logged=990"), line);
            assertTrue(line.contains("handshakes_per_address=") && line.contains("handshakes="), line);
            assertTrue(line.contains("remotes=7"), line);
            assertEquals(5, line.substring(line.indexOf("busiest_remotes=")).split("\"")[1].split(",").length, line);
            Thread.sleep(400);
            assertEquals(1, summaries(log).size(), "one summary per window");
        }
    }

    @Test
    void aNewWindowLogsAgainAndAQuietWindowWritesNoSummary() {
        try (LogCapture log = new LogCapture()) {
            RefusalLog r = new RefusalLog(scheduler, clock::get, Duration.ofSeconds(10));
            assertTrue(r.refused(PeerRefusal.HANDSHAKE_FAILED, "10.0.0.1"));
            clock.addAndGet(Duration.ofSeconds(11).toNanos());
            for (int i = 0; i < RefusalLog.BURST; i++) {
                assertTrue(r.refused(PeerRefusal.HANDSHAKE_TIMEOUT, "10.0.0.1"), "a new window, a new burst");
            }
            assertFalse(r.refused(PeerRefusal.HANDSHAKE_TIMEOUT, "10.0.0.2"));
            assertEquals(List.of(), summaries(log), "the first window left nothing out");
            r.close();
            List<String> s = summaries(log);
            assertEquals(1, s.size(), "close writes what the window left out");
            assertTrue(s.getFirst().contains("not_logged=1 ") && s.getFirst().contains("busiest_remotes=\"10.0.0.2=1\""), s.getFirst());
        }
    }

    @Test
    void addressesPastTheTrackedOnesAreSummedAsOther() {
        try (LogCapture log = new LogCapture()) {
            RefusalLog r = new RefusalLog(scheduler, clock::get, Duration.ofSeconds(10));
            for (int i = 0; i < RefusalLog.BURST; i++) {
                r.refused(PeerRefusal.HANDSHAKES, "192.0.2.1");
            }
            for (int i = 0; i < RefusalLog.MAX_TRACKED_ADDRESSES + 100; i++) {
                r.refused(PeerRefusal.HANDSHAKES, "10." + (i >> 16) + "." + ((i >> 8) & 255) + "." + (i & 255));
            }
            r.close();
            String s = summaries(log).getFirst();
            assertTrue(s.contains("busiest_remotes=\"other=100,"), s);
            assertTrue(s.contains("remotes=" + (RefusalLog.MAX_TRACKED_ADDRESSES + 1)), s);
        }
    }
}
