package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every failure before the commit point leaves exactly one running copy (on the source) and nothing
 * on the destination; failures after Go are resolved by asking the destination.
 */
class MigrationFailureTest {

    /** Three live rounds (0, 1, 2) then stop-and-copy, whatever the timing. */
    static final MigrationOptions THREE_ROUNDS = MigrationOptions.DEFAULTS
            .withPolicy(MigrationOptions.PolicyKind.XEN_LEGACY).withMaxRounds(3);

    @TempDir
    Path dir;
    EnginePair pair;
    final CopyOnWriteArrayList<PeerConnection> opened = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        pair = new EnginePair(dir);
    }

    @AfterEach
    void tearDown() {
        pair.close();
    }

    private SimGuest busyGuest() throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.HVM, 4096);
        src.startWorkload(1024, 200);
        return src;
    }

    private MigrationResult run(MigrationOptions options) throws Exception {
        MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", options));
        return h.result().get(30, TimeUnit.SECONDS);
    }

    /** Exactly one copy runs, on the source; the destination built nothing and is idle. */
    private void assertOnlySourceRuns(SimGuest src) throws Exception {
        pair.awaitDestinationIdle();
        assertTrue(src.running(), "source copy runs");
        assertEquals(src.pauses(), src.resumes(), "every pause was undone");
        assertFalse(pair.b.hv.names().contains("vm1"), "destination left nothing behind: " + pair.b.hv.names());
        assertFalse(pair.a.engine.list().getFirst().outcome().isEmpty());
        // the domain is free again: a new migration may start
        assertTrue(pair.a.engine.list().stream().noneMatch(s -> s.outcome().isEmpty()));
    }

    private void cutAtPhase(String phase) {
        pair.wrapA = c -> {
            opened.add(c);
            return c;
        };
        pair.a.engine.addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                String name = to instanceof MigrationPhase.PreCopy p ? "pre-copy/" + p.round() : to.name();
                if (name.equals(phase)) {
                    opened.forEach(PeerConnection::close);
                }
            }
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"pre-copy/0", "pre-copy/1", "stop-and-copy", "tail", "awaiting-received"})
    void connectionCutBeforeGoKeepsTheGuestOnTheSource(String phase) throws Exception {
        SimGuest src = busyGuest();
        cutAtPhase(phase);
        MigrationResult r = run(THREE_ROUNDS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertOnlySourceRuns(src);
        assertEquals(MigrationResult.Outcome.FAILED, pair.b.engine.list().getFirst().outcome().orElseThrow());
    }

    @Test
    void destinationRejectsANameClashBeforeAnyPageMoves() throws Exception {
        SimGuest src = busyGuest();
        pair.b.hv.createRunning("vm1", GuestType.HVM, 16, 1);
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertTrue(r.reason().contains("exists"), r.reason());
        assertEquals(0, r.rounds());
        assertEquals(0, src.pauses());
        assertTrue(src.running());
        assertTrue(pair.b.hv.guest("vm1").orElseThrow().running(), "the destination's own domain is untouched");
    }

    @Test
    void destinationRejectsAnUnknownPeer() throws Exception {
        SimGuest src = busyGuest();
        pair.b.connector.setPeers(Map.of("hostB", pair.b.server.address()), Map.of());
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertTrue(r.reason().contains("unknown peer 'hostA'"), r.reason());
        assertOnlySourceRuns(src);
    }

    @Test
    void aDestinationThatCannotBuildTheDomainIsReportedWithItsOwnReason() throws Exception {
        SimGuest src = busyGuest();
        pair.b.hv.failCreateForRestore = "cannot read free space of /var/lib/migrationd/sim: Mount point not found";
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertEquals("destination failed before accepting: createForRestore domain=vm1: cannot read free space of "
                + "/var/lib/migrationd/sim: Mount point not found", r.reason());
        assertEquals(0, r.rounds());
        assertEquals(0, src.pauses(), "no page moved, the guest was never paused");
        assertOnlySourceRuns(src);
    }

    @Test
    void unknownPeerOnTheSourceIsRefusedAtStart() throws Exception {
        busyGuest();
        assertThrows(EngineException.UnknownPeerException.class,
                () -> pair.a.engine.start(MigrationRequest.of("vm1", "hostC", MigrationOptions.DEFAULTS)));
        EngineException e = assertThrows(EngineException.class,
                () -> pair.a.engine.start(MigrationRequest.of("nosuch", "hostB", MigrationOptions.DEFAULTS)));
        assertEquals(EngineException.Kind.NOT_FOUND, e.kind());
    }

    @Test
    void corruptStreamFailsOnTheDestinationAndTheSourceResumes() throws Exception {
        SimGuest src = busyGuest();
        AtomicBoolean injected = new AtomicBoolean();
        pair.wrapA = c -> new EnginePair.Wrapped(c) {
            @Override
            public void sendStream(ByteBuffer data) throws IOException {
                super.sendStream(data);
                if (injected.compareAndSet(false, true)) {
                    // after the header: a batch count of 1025 (> MAX_BATCH_SIZE), little-endian
                    super.sendStream(ByteBuffer.wrap(new byte[] {0x01, 0x04, 0x00, 0x00}));
                }
            }
        };
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertOnlySourceRuns(src);
        String destReason = pair.b.engine.list().getFirst().reason();
        assertTrue(destReason.contains("batch of 1025 entries exceeds MAX_BATCH_SIZE"), destReason);
        assertTrue(r.reason().contains("destination failed") && r.reason().contains("1025"),
                "the source reports the destination's reason: " + r.reason());
    }

    @Test
    void aFailedEndOfRestoreOnTheDestinationComesBeforeGoAndTheSourceResumes() throws Exception {
        SimGuest src = busyGuest();
        pair.b.hv.failCompleteRestore = "page tables could not be pinned";
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertTrue(r.reason().contains("page tables could not be pinned"), r.reason());
        assertOnlySourceRuns(src);
    }

    @Test
    void theDestinationCompletesTheRestoreBeforeItIsUnpaused() throws Exception {
        busyGuest();
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
        assertEquals(1, pair.b.hv.guest("vm1").orElseThrow().completedRestores());
    }

    @Test
    void connectionCutRightAfterGoIsResolvedAsCommitted() throws Exception {
        SimGuest src = busyGuest();
        pair.wrapA = c -> new EnginePair.Wrapped(c) {
            private volatile boolean cut;

            @Override
            public void send(HandoverMessage m) throws IOException {
                super.send(m);
                if (m instanceof HandoverMessage.Go) {
                    super.drain();
                    cut = true;
                    super.close(); // Go is on the wire; Running will never be read
                }
            }

            @Override
            public Inbound receive(Duration timeout) throws IOException, TimeoutException, InterruptedException {
                if (cut) { // a Running that beat the close to the queue is lost with the connection too
                    throw new IOException("connection cut after Go");
                }
                return super.receive(timeout);
            }
        };
        EnginePair.Recorder rec = new EnginePair.Recorder();
        pair.a.engine.addObserver(rec);
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
        assertTrue(rec.phases.contains("in-doubt"), rec.phases.toString());
        assertTrue(src.destroyed(), "the destination committed: the source copy is destroyed");
        // the destination answers COMMITTED once it is durable, before it unpauses: the copy runs once its side ends
        pair.awaitDestinationIdle();
        assertTrue(pair.b.hv.guest("vm1").orElseThrow().running());
        assertEquals(0, src.resumes(), "never resumed after the commit point");
    }

    @Test
    void theGuestIsPausedOnlyOnceTheDestinationHasAppliedEverythingSentBefore() throws Exception {
        SimGuest src = busyGuest();
        java.util.List<String> events = new CopyOnWriteArrayList<>();
        pair.wrapA = c -> new EnginePair.Wrapped(c) {
            @Override
            public void send(HandoverMessage m) throws IOException {
                events.add("sent " + m.getClass().getSimpleName());
                super.send(m);
            }

            @Override
            public Inbound receive(Duration timeout) throws IOException, TimeoutException, InterruptedException {
                Inbound in = super.receive(timeout);
                if (in instanceof Message msg) {
                    events.add("heard " + msg.message().getClass().getSimpleName());
                }
                return in;
            }
        };
        pair.a.engine.addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                if (to instanceof MigrationPhase.StopAndCopy) {
                    events.add("pause");
                }
            }
        });
        MigrationResult r = run(THREE_ROUNDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
        int flush = events.indexOf("sent Flush");
        int flushed = events.indexOf("heard Flushed");
        int pause = events.indexOf("pause");
        assertTrue(flush >= 0 && flush < flushed && flushed < pause && pause < events.indexOf("sent StreamEnd"), events.toString());
        assertEquals(1, src.pauses(), "paused once, for the stop-and-copy");
    }

    @Test
    void goLostIsResolvedAsNotCommittedAndTheSourceResumes() throws Exception {
        SimGuest src = busyGuest();
        pair.wrapA = c -> new EnginePair.Wrapped(c) {
            @Override
            public void send(HandoverMessage m) throws IOException {
                if (m instanceof HandoverMessage.Go) {
                    super.close(); // the connection dies with Go unsent
                    throw new IOException("connection lost while sending Go");
                }
                super.send(m);
            }
        };
        EnginePair.Recorder rec = new EnginePair.Recorder();
        pair.a.engine.addObserver(rec);
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertTrue(r.reason().contains("did not commit"), r.reason());
        assertTrue(rec.phases.contains("in-doubt"), rec.phases.toString());
        assertOnlySourceRuns(src);
    }

    /** The guest stays paused while the source waits to learn that Go was lost; that wait is downtime too. */
    @Test
    void aFailedMigrationReportsTheWholeTimeTheGuestWasPausedAsDowntime() throws Exception {
        SimGuest src = busyGuest();
        long stall = 600;
        pair.wrapA = c -> new EnginePair.Wrapped(c) {
            @Override
            public void send(HandoverMessage m) throws IOException {
                if (m instanceof HandoverMessage.Go) {
                    try {
                        Thread.sleep(stall); // the guest is paused meanwhile
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    super.close();
                    throw new IOException("connection lost while sending Go");
                }
                super.send(m);
            }
        };
        MigrationResult r = run(MigrationOptions.DEFAULTS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertOnlySourceRuns(src);
        assertTrue(r.downtime().total().toMillis() >= stall, "downtime " + r.downtime() + " includes the " + stall
                + " ms the guest stayed paused before the source resumed it");
    }

    @ParameterizedTest
    @ValueSource(strings = {"pre-copy/0", "pre-copy/1", "stop-and-copy", "tail", "awaiting-received"})
    void cancelInEveryPhaseBeforeTheCommitPoint(String phase) throws Exception {
        SimGuest src = busyGuest();
        AtomicReference<CancelOutcome> outcome = new AtomicReference<>();
        pair.a.engine.addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                String name = to instanceof MigrationPhase.PreCopy p ? "pre-copy/" + p.round() : to.name();
                if (name.equals(phase)) {
                    try {
                        outcome.set(pair.a.engine.cancel(m.id()));
                    } catch (EngineException e) {
                        throw new AssertionError(e);
                    }
                }
            }
        });
        MigrationResult r = run(THREE_ROUNDS);
        assertEquals(CancelOutcome.CANCELLED, outcome.get());
        assertEquals(MigrationResult.Outcome.CANCELLED, r.outcome(), r.reason());
        // the bytes actually sent before the cancel: the header at least; every page once round 0 is over
        if (phase.equals("pre-copy/0")) {
            assertTrue(r.bytes() > 0 && r.bytes() < 4096L * 4096, "header only: " + r.bytes());
        } else {
            assertTrue(r.bytes() > 4096L * 4096, "round 0 sent every page: " + r.bytes());
        }
        assertOnlySourceRuns(src);
    }

    @Test
    void cancelRightAfterStart() throws Exception {
        SimGuest src = busyGuest();
        MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", THREE_ROUNDS));
        assertEquals(CancelOutcome.CANCELLED, h.cancel());
        MigrationResult r = h.result().get(30, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.CANCELLED, r.outcome());
        assertEquals(CancelOutcome.FAILED_FIRST, h.cancel(), "a second cancel finds it over");
        assertOnlySourceRuns(src);
    }

    @Test
    void cancelOnTheDestinationFailsTheMigration() throws Exception {
        SimGuest src = busyGuest();
        pair.b.engine.addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                if (to instanceof MigrationPhase.Receiving) {
                    try {
                        pair.b.engine.cancel(m.id());
                    } catch (EngineException e) {
                        throw new AssertionError(e);
                    }
                }
            }
        });
        MigrationResult r = run(THREE_ROUNDS);
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertOnlySourceRuns(src);
        assertEquals(MigrationResult.Outcome.CANCELLED, pair.b.engine.list().getFirst().outcome().orElseThrow());
    }

    @Test
    void aSecondMigrationOfAMigratingDomainIsRefused() throws Exception {
        SimGuest src = busyGuest();
        MigrationHandle first = pair.a.engine.start(MigrationRequest.of("vm1", "hostB",
                MigrationOptions.DEFAULTS.withBandwidthCap(4 << 20)));
        EngineException.DomainBusyException e = assertThrows(EngineException.DomainBusyException.class,
                () -> pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS)));
        assertEquals(first.id(), e.migrationId());
        assertEquals(EngineException.Kind.BUSY, e.kind());
        first.cancel();
        assertEquals(MigrationResult.Outcome.CANCELLED, first.result().get(30, TimeUnit.SECONDS).outcome());
        assertOnlySourceRuns(src);
    }

    @Test
    void idempotencyKeyReturnsTheSameMigration() throws Exception {
        busyGuest();
        MigrationRequest req = MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS).withIdempotencyKey("k1");
        MigrationHandle h1 = pair.a.engine.start(req);
        MigrationHandle h2 = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS)
                .withIdempotencyKey("k1"));
        assertEquals(h1.id(), h2.id());
        assertEquals(MigrationResult.Outcome.SUCCEEDED, h1.result().get(30, TimeUnit.SECONDS).outcome());
    }

    @Test
    void destinationIdleTimeoutDestroysThePartialDomain() throws Exception {
        SimGuest src = busyGuest();
        // the source stalls after round 0 (no bytes for longer than the destination's idle timeout)
        pair.a.engine.addObserver(new MigrationObserver() {
            @Override
            public void roundCompleted(MigrationInfo m, RoundStats stats) {
                try {
                    Thread.sleep(EnginePair.TIMEOUT.toMillis() + 500);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        MigrationResult r = run(MigrationOptions.DEFAULTS.withMaxDowntime(Duration.ofMillis(1)));
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        assertOnlySourceRuns(src);
    }
}
