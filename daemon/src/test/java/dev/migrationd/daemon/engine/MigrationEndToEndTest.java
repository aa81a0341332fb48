package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Two engines over loopback Netty with fake hypervisors: the success path and its invariants. */
class MigrationEndToEndTest {

    @TempDir
    Path dir;
    EnginePair pair;

    @BeforeEach
    void setUp() throws Exception {
        pair = new EnginePair(dir);
    }

    @AfterEach
    void tearDown() {
        pair.close();
    }

    @ParameterizedTest
    @EnumSource(GuestType.class)
    void migratesARunningGuestAndOnlyTheDestinationCopyRemains(GuestType type) throws Exception {
        SimGuest src = pair.guest("vm1", type, 4096);
        src.hashOnPause(true);
        src.startWorkload(512, 50);
        EnginePair.Recorder recA = new EnginePair.Recorder();
        EnginePair.Recorder recB = new EnginePair.Recorder();
        pair.a.engine.addObserver(recA);
        pair.b.engine.addObserver(recB);

        MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS));
        MigrationResult r = h.result().get(30, TimeUnit.SECONDS);

        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
        assertTrue(src.destroyed(), "source copy destroyed");
        assertFalse(pair.a.hv.names().contains("vm1"));
        SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
        assertTrue(dst.running(), "destination copy runs");
        assertNotNull(src.atPause());
        assertEquals(1, src.pauses(), "paused once, for stop-and-copy");
        assertEquals(0, src.resumes(), "never resumed after the commit point");
        // the destination starts from the source's memory and vCPU/platform state at the moment of the pause
        assertEquals(src.atPause(), dst.atStart());
        assertTrue(r.rounds() >= 2, "round 0 plus the final round: " + r.rounds());
        assertTrue(r.bytes() > 4096L * 4096, "every page was sent: " + r.bytes());
        assertEquals(List.of("pre-copy/0"), recA.phases.subList(0, 1));
        assertEquals("done", recA.phases.getLast());
        assertTrue(recA.phases.containsAll(List.of("stop-and-copy", "tail", "awaiting-received", "committing", "done")), recA.phases.toString());
        pair.awaitDestinationIdle(); // the destination finishes its bookkeeping after sending Running
        assertEquals(List.of("receiving", "awaiting-go", "committing", "done"), recB.phases);
        assertEquals(r.rounds() - 1, recA.rounds.size(), "one RoundStats per live round");
        MigrationResult rb = recB.results.getFirst();
        assertEquals(MigrationResult.Outcome.SUCCEEDED, rb.outcome());
        assertEquals(r.bytes(), rb.bytes(), "destination received what the source sent");
        assertTrue(r.downtime().total().toNanos() > 0);
        // the destination's own downtime reaches the source's result (from Running)
        assertTrue(rb.destinationDowntime().isPresent(), "destination measures its downtime");
        assertEquals(rb.destinationDowntime(), r.destinationDowntime(), "the source reports the destination's figure");
        assertEquals(rb.downtime().total(), r.destinationDowntime().orElseThrow());
        assertTrue(r.destinationDowntime().orElseThrow().toNanos() > 0);
        // history on both sides
        assertEquals(MigrationResult.Outcome.SUCCEEDED, pair.a.engine.list().getFirst().outcome().orElseThrow());
        assertEquals(CancelOutcome.COMPLETED_FIRST, pair.a.engine.cancel(h.id()));
        assertThrows(EngineException.UnknownMigrationException.class, () -> pair.a.engine.cancel("nope"));
    }
}
