package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daemon restart reads the journal and finishes what the previous run left: the journal is written
 * here as a crashed daemon would have left it, then the engine is restarted on it.
 */
class RecoveryTest {

    @TempDir
    Path dir;

    private static void write(Path stateDir, Journal.Entry... entries) throws Exception {
        try (Journal j = new Journal(stateDir)) {
            for (Journal.Entry e : entries) {
                j.append(e);
            }
        }
    }

    private static Journal.Entry entry(String id, Journal.Role role, Journal.State state, SimGuest d, String peer) {
        return new Journal.Entry(Instant.now(), id, role, state, d == null ? Map.of()
                : Map.of("domain", d.name(), "peer", peer, "guest", "HVM", "uuid", d.uuid().toString()));
    }

    private static void await(BooleanSupplier cond, String what) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException(what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void sourceInDoubtAfterRestartDestroysItsCopyWhenTheDestinationCommitted() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            SimGuest dst = pair.b.hv.createRunning("vm1", GuestType.HVM, 64, 2);
            write(pair.a.stateDir, entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m1", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            write(pair.b.stateDir, entry("m1", Journal.Role.DESTINATION, Journal.State.ACCEPTED, dst, "hostA"),
                    entry("m1", Journal.Role.DESTINATION, Journal.State.COMMITTED, null, null));
            pair.b.restartEngine();
            pair.a.restartEngine();
            await(src::destroyed, "source copy destroyed");
            assertTrue(dst.running());
            await(() -> pair.a.engine.list().stream().anyMatch(s -> s.info().id().equals("m1")
                    && s.phase() instanceof MigrationPhase.Done), "history shows m1 done");
            List<String> lines = Files.readAllLines(pair.a.stateDir.resolve(Journal.FILE_NAME));
            assertTrue(lines.getLast().contains("state=DONE"), lines.getLast());
        }
    }

    @Test
    void sourceInDoubtAfterRestartResumesWhenTheDestinationNeverSawGo() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            write(pair.a.stateDir, entry("m2", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m2", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            pair.a.restartEngine();
            await(src::running, "source resumed");
            assertFalse(src.destroyed());
            await(() -> pair.a.engine.list().stream().anyMatch(s -> s.info().id().equals("m2")
                    && s.phase() instanceof MigrationPhase.Failed), "history shows m2 failed");
        }
    }

    @Test
    void sourceInDoubtWaitsWhileTheDestinationIsUnreachable() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            write(pair.a.stateDir, entry("m3", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m3", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            pair.b.server.close(); // destination down
            pair.a.restartEngine();
            Thread.sleep(500); // several retries
            assertFalse(src.running(), "an in-doubt guest stays paused");
            assertFalse(src.destroyed());
            EngineException.DomainBusyException busy = org.junit.jupiter.api.Assertions.assertThrows(
                    EngineException.DomainBusyException.class,
                    () -> pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS)));
            assertEquals("m3", busy.migrationId());
        }
    }

    @Test
    void sourceRestartBeforeTheCommitPointResumesTheGuest() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause(); // crashed during stop-and-copy
            write(pair.a.stateDir, entry("m4", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"));
            pair.a.restartEngine();
            assertTrue(src.running());
            assertTrue(Files.readAllLines(pair.a.stateDir.resolve(Journal.FILE_NAME)).getLast().contains("state=FAILED"));
        }
    }

    @Test
    void destinationRestartDestroysAPartialDomainAndUnpausesACommittedOne() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest partial = pair.b.hv.createRunning("half", GuestType.HVM, 64, 1);
            partial.pause();
            SimGuest committed = pair.b.hv.createRunning("whole", GuestType.HVM, 64, 1);
            committed.pause();
            write(pair.b.stateDir, entry("p1", Journal.Role.DESTINATION, Journal.State.ACCEPTED, partial, "hostA"),
                    entry("c1", Journal.Role.DESTINATION, Journal.State.ACCEPTED, committed, "hostA"),
                    entry("c1", Journal.Role.DESTINATION, Journal.State.COMMITTED, null, null));
            pair.b.restartEngine();
            assertTrue(partial.destroyed());
            assertTrue(committed.running());
            // and it answers a source's query from the journal
            assertEquals(2, pair.b.engine.list().size());
        }
    }

    @Test
    void historySurvivesARestart() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            pair.guest("vm1", GuestType.HVM, 256);
            MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS)
                    .withIdempotencyKey("key-1"));
            assertEquals(MigrationResult.Outcome.SUCCEEDED, h.result().get().outcome());
            pair.a.restartEngine();
            MigrationSummary s = pair.a.engine.list().getFirst();
            assertEquals(h.id(), s.info().id());
            assertEquals(MigrationResult.Outcome.SUCCEEDED, s.outcome().orElseThrow());
            assertEquals("vm1", s.info().domain());
            assertEquals(Direction.OUTGOING, s.info().direction());
            assertEquals(CancelOutcome.COMPLETED_FIRST, pair.a.engine.cancel(h.id()));
        }
    }
}
