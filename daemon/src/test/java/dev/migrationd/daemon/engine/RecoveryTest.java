package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.handover.InDoubtCase;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.handover.OutgoingMigration;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.journal.JournalReader;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.daemon.engine.run.OperatorDecision;
import dev.migrationd.daemon.engine.run.Resolved;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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

    static Journal.Entry lastEntry(Path stateDir) throws Exception {
        return JournalReader.read(Files.readAllBytes(stateDir.resolve(Journal.FILE_NAME))).entries().getLast();
    }

    /**
     * Waits until the journal's last record is in state {@code want}: recovery acts on the guest (resumes it,
     * say) before it journals the end, so a test that saw the guest act may read the journal a moment early.
     */
    static void awaitLastState(Path stateDir, Journal.State want) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        Journal.State last;
        while ((last = lastEntry(stateDir).state()) != want) {
            if (System.nanoTime() > deadline) {
                assertEquals(want, last, "the journal's last record");
            }
            Thread.sleep(20);
        }
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
            awaitLastState(pair.a.stateDir, Journal.State.DONE);
        }
    }

    @Test
    void sourceInDoubtAfterRestartResumesOnlyOnTheDestinationsDurableNotCommitted() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            write(pair.a.stateDir, entry("m2", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m2", Journal.Role.SOURCE, Journal.State.PAUSING, null, null),
                    entry("m2", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            write(pair.b.stateDir, entry("m2", Journal.Role.DESTINATION, Journal.State.ACCEPTED, null, "hostA"),
                    entry("m2", Journal.Role.DESTINATION, Journal.State.FAILED, null, null));
            pair.b.restartEngine();
            pair.a.restartEngine();
            await(src::running, "source resumed");
            assertFalse(src.destroyed());
            await(() -> pair.a.engine.list().stream().anyMatch(s -> s.info().id().equals("m2")
                    && s.phase() instanceof MigrationPhase.Failed), "history shows m2 failed");
            awaitLastState(pair.a.stateDir, Journal.State.FAILED);
        }
    }

    @Test
    void aGuestTheOperatorHadPausedStaysPausedWhenTheDestinationDidNotCommit() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause(); // paused before the migration: no PAUSING record
            write(pair.a.stateDir, entry("m5", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m5", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            write(pair.b.stateDir, entry("m5", Journal.Role.DESTINATION, Journal.State.ACCEPTED, null, "hostA"),
                    entry("m5", Journal.Role.DESTINATION, Journal.State.FAILED, null, null));
            pair.b.restartEngine();
            pair.a.restartEngine();
            await(() -> pair.a.engine.list().stream().anyMatch(s -> s.info().id().equals("m5")
                    && s.phase() instanceof MigrationPhase.Failed), "history shows m5 failed");
            assertFalse(src.running(), "the migration did not pause it, so it does not resume it");
            assertFalse(src.destroyed());
        }
    }

    @Test
    void aDestinationWithNoRecordKeepsTheSourcePausedAndAlertsUntilAnOperatorConfirmsTheDestination() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            write(pair.a.stateDir, entry("m6", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m6", Journal.Role.SOURCE, Journal.State.PAUSING, null, null),
                    entry("m6", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            EnginePair.Recorder rec = new EnginePair.Recorder();
            pair.a.restartEngine(rec); // hostB's journal knows nothing of m6 (lost, say): it answers UNKNOWN
            assertEquals(List.of("m6 in-doubt"), rec.inDoubt, "an observer given to the engine hears the recovery open the case");
            await(() -> rec.attentions.contains("m6 IN_DOUBT_UNKNOWN raised"), "operator alert raised");
            Thread.sleep(300); // more questions, same answer
            assertFalse(src.running(), "UNKNOWN never resumes the source");
            assertFalse(src.destroyed());
            assertTrue(pair.a.engine.list().stream().anyMatch(s -> s.info().id().equals("m6")
                    && s.phase() instanceof MigrationPhase.InDoubt d && d.why().contains("migrationctl resolve")));
            Resolved r = pair.a.engine.resolve("m6", OperatorDecision.CONFIRM_DESTINATION);
            assertEquals("unknown", r.peerAnswer());
            assertEquals(InDoubtCase.BY_OPERATOR, r.decidedBy());
            assertTrue(r.phase() instanceof MigrationPhase.Done, r.toString());
            assertTrue(src.destroyed());
            awaitLastState(pair.a.stateDir, Journal.State.DONE);
            await(() -> rec.attentions.contains("m6 IN_DOUBT_UNKNOWN cleared"), "operator alert cleared");
            assertEquals(List.of("m6 in-doubt", "m6 settled"), rec.inDoubt);
        }
    }

    /**
     * The daemon's metrics are given to the engine before it replays the journal: a source recovered in doubt
     * is counted by migrationd_migrations_in_doubt from the start (the alert MigrationdMigrationInDoubt), and
     * the destination's UNKNOWN raises migrationd_migrations_needing_operator{reason="in_doubt_unknown"}; both
     * fall back to 0 once an operator has decided.
     */
    @Test
    void aSourceRecoveredInDoubtIsCountedByTheMetricsUntilItIsResolved() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            write(pair.a.stateDir, entry("m11", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m11", Journal.Role.SOURCE, Journal.State.PAUSING, null, null),
                    entry("m11", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            var registry = new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(
                    io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
            pair.a.restartEngine(new dev.migrationd.daemon.metrics.MetricsBinder(registry));
            assertEquals(1.0, gauge(registry, "migrationd_migrations_in_doubt "), "counted as soon as the engine is up");
            await(() -> gauge(registry, "migrationd_migrations_needing_operator{reason=\"in_doubt_unknown\"}") == 1.0,
                    "the operator alert for UNKNOWN");
            assertEquals(1.0, gauge(registry, "migrationd_migrations_in_doubt "));
            pair.a.engine.resolve("m11", OperatorDecision.RESUME_SOURCE);
            await(() -> gauge(registry, "migrationd_migrations_in_doubt ") == 0.0, "in-doubt gauge back to 0");
            await(() -> gauge(registry, "migrationd_migrations_needing_operator{reason=\"in_doubt_unknown\"}") == 0.0,
                    "operator alert cleared");
            assertTrue(src.running(), "the operator resumed the source");
        }
    }

    /** The value of the one series whose line starts with {@code prefix} (NaN when there is none). */
    private static double gauge(io.micrometer.prometheusmetrics.PrometheusMeterRegistry r, String prefix) {
        return r.scrape().lines().filter(l -> l.startsWith(prefix)).mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .findFirst().orElse(Double.NaN);
    }

    @Test
    void resolveRefusesWhatTheDestinationContradictsAndActsWhenItCannotBeReached() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            write(pair.a.stateDir, entry("m7", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m7", Journal.Role.SOURCE, Journal.State.PAUSING, null, null),
                    entry("m7", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            pair.b.server.close(); // the destination cannot be reached: the source waits
            pair.a.restartEngine();
            Thread.sleep(300);
            assertFalse(src.running());
            EngineException notInDoubt = org.junit.jupiter.api.Assertions.assertThrows(EngineException.class,
                    () -> pair.a.engine.resolve("nope", OperatorDecision.RESUME_SOURCE));
            assertEquals(EngineException.Kind.NOT_FOUND, notInDoubt.kind());
            Resolved r = pair.a.engine.resolve("m7", OperatorDecision.RESUME_SOURCE);
            assertEquals("unreachable", r.peerAnswer());
            assertTrue(r.phase() instanceof MigrationPhase.Failed, r.toString());
            assertTrue(src.running(), "the operator's word resumes the guest");
            EngineException again = org.junit.jupiter.api.Assertions.assertThrows(EngineException.class,
                    () -> pair.a.engine.resolve("m7", OperatorDecision.CONFIRM_DESTINATION));
            assertEquals(EngineException.Kind.FAILED_PRECONDITION, again.kind(), "settled: no longer in doubt");
        }
    }

    @Test
    void resumeSourceIsRefusedWhileTheDestinationAnswersCommitted() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause();
            SimGuest dst = pair.b.hv.createRunning("vm1", GuestType.HVM, 64, 2);
            write(pair.a.stateDir, entry("m8", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m8", Journal.Role.SOURCE, Journal.State.PAUSING, null, null),
                    entry("m8", Journal.Role.SOURCE, Journal.State.COMMITTING, null, null));
            write(pair.b.stateDir, entry("m8", Journal.Role.DESTINATION, Journal.State.ACCEPTED, dst, "hostA"),
                    entry("m8", Journal.Role.DESTINATION, Journal.State.COMMITTED, null, null));
            pair.b.restartEngine();
            // hold the source's own resolver back: it must not settle m8 before the operator asks
            pair.a.engine.close();
            pair.a.engine = new MigrationEngine(pair.a.engine.config(), r -> { });
            EngineException e = org.junit.jupiter.api.Assertions.assertThrows(EngineException.class,
                    () -> pair.a.engine.resolve("m8", OperatorDecision.RESUME_SOURCE));
            assertEquals(EngineException.Kind.FAILED_PRECONDITION, e.kind());
            assertTrue(e.getMessage().contains("answers COMMITTED"), e.getMessage());
            assertFalse(src.running(), "refused: nothing was done");
            assertFalse(src.destroyed());
            assertTrue(dst.running());
        }
    }

    @Test
    void sourceRestartAfterThePauseAsksTheDestinationBeforeResuming() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
            src.pause(); // crashed during stop-and-copy
            write(pair.a.stateDir, entry("m4", Journal.Role.SOURCE, Journal.State.STARTED, src, "hostB"),
                    entry("m4", Journal.Role.SOURCE, Journal.State.PAUSING, null, null));
            write(pair.b.stateDir, entry("m4", Journal.Role.DESTINATION, Journal.State.ACCEPTED, null, "hostA"),
                    entry("m4", Journal.Role.DESTINATION, Journal.State.FAILED, null, null));
            pair.b.restartEngine();
            pair.a.restartEngine();
            await(src::running, "source resumed once the destination said NOT_COMMITTED");
            awaitLastState(pair.a.stateDir, Journal.State.FAILED);
        }
    }

    @Test
    void sourceRestartBeforeThePauseLeavesTheGuestAsItIs() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest running = pair.guest("vm1", GuestType.HVM, 64);
            SimGuest paused = pair.guest("vm2", GuestType.HVM, 64);
            paused.pause(); // by the operator, before or during pre-copy
            write(pair.a.stateDir, entry("m9", Journal.Role.SOURCE, Journal.State.STARTED, running, "hostB"),
                    entry("m10", Journal.Role.SOURCE, Journal.State.STARTED, paused, "hostB"));
            pair.a.restartEngine();
            assertTrue(running.running());
            assertFalse(paused.running(), "the migration had not paused it");
            awaitLastState(pair.a.stateDir, Journal.State.FAILED);
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
            MigrationResult result = h.result().get();
            assertEquals(MigrationResult.Outcome.SUCCEEDED, result.outcome());
            pair.awaitDestinationIdle();
            pair.a.restartEngine();
            pair.b.restartEngine();
            MigrationSummary s = pair.a.engine.list().getFirst();
            assertEquals(h.id(), s.info().id());
            assertEquals(MigrationResult.Outcome.SUCCEEDED, s.outcome().orElseThrow());
            // the downtime survives too, never less than was measured (whole milliseconds, rounded up)
            Duration measured = result.downtime().total();
            Duration back = s.downtime().orElseThrow(() -> new AssertionError("no downtime read back: " + s));
            assertTrue(back.compareTo(measured) >= 0 && back.minus(measured).toMillis() < 1, back + " vs " + measured);
            MigrationSummary d = pair.b.engine.list().getFirst();
            assertEquals(h.id(), d.info().id());
            assertTrue(d.downtime().isPresent(), "the destination's downtime is read back too: " + d);
            assertEquals("vm1", s.info().domain());
            assertEquals(Direction.OUTGOING, s.info().direction());
            assertEquals(CancelOutcome.COMPLETED_FIRST, pair.a.engine.cancel(h.id()));
        }
    }

    /**
     * Two daemons of one host, both restarted in the middle of a migration: the destination's partial copy
     * was built as vm5--incoming and the source's renamed vm5--migratedaway, one UUID for both. Recovery looks
     * each side's copy up only under its own names, so the destination destroys its copy and not the source's,
     * and the source, told NOT_COMMITTED, takes its name back and runs on.
     */
    @Test
    void oneHostRecoveryTellsTheTwoCopiesApartAndTheSourceTakesItsNameBack() throws Exception {
        try (EnginePair pair = EnginePair.oneHost(dir)) {
            SimGuest src = pair.guest("vm5", GuestType.HVM, 64);
            src.pause();
            src.rename("vm5" + OutgoingMigration.MIGRATED_AWAY_SUFFIX);
            SimGuest copy = (SimGuest) pair.b.hv.createForRestore(new DomainShape("vm5" + IncomingMigration.INCOMING_SUFFIX,
                    src.uuid(), 64, 2, GuestType.HVM, Width.W64));
            Map<String, String> start = Map.of("domain", "vm5", "peer", "hostB", "guest", "HVM", "uuid", src.uuid().toString());
            write(pair.a.stateDir, new Journal.Entry(Instant.now(), "m9", Journal.Role.SOURCE, Journal.State.STARTED, start),
                    entry("m9", Journal.Role.SOURCE, Journal.State.PAUSING, null, null),
                    new Journal.Entry(Instant.now(), "m9", Journal.Role.SOURCE, Journal.State.COMMITTING,
                            Map.of(OutgoingMigration.AWAY_NAME_FIELD, "vm5" + OutgoingMigration.MIGRATED_AWAY_SUFFIX)));
            write(pair.b.stateDir, new Journal.Entry(Instant.now(), "m9", Journal.Role.DESTINATION, Journal.State.ACCEPTED,
                    Map.of("domain", "vm5", "peer", "hostA", "guest", "HVM", "uuid", src.uuid().toString(),
                            IncomingMigration.BUILD_NAME_FIELD, "vm5" + IncomingMigration.INCOMING_SUFFIX)));
            pair.b.restartEngine();
            assertTrue(copy.destroyed(), "the destination's partial copy is destroyed");
            assertFalse(src.destroyed(), "the source's copy, same UUID, is left alone");
            pair.a.restartEngine();
            await(src::running, "source resumed");
            assertEquals(java.util.Set.of("vm5"), pair.a.hv.names(), "one copy, under its own name");
            awaitLastState(pair.a.stateDir, Journal.State.FAILED);
        }
    }
}
