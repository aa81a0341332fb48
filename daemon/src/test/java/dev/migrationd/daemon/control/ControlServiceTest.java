package dev.migrationd.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.migrationd.control.v1.CancelMigrationRequest;
import dev.migrationd.control.v1.CancelResult;
import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DestroyDomainRequest;
import dev.migrationd.control.v1.DomainDetails;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.InspectDomainRequest;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.ListDomainsResponse;
import dev.migrationd.control.v1.ListMigrationsRequest;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.MigrationEvent;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.control.v1.Outcome;
import dev.migrationd.control.v1.Phase;
import dev.migrationd.control.v1.RestoreDomainRequest;
import dev.migrationd.control.v1.SaveDomainRequest;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.control.v1.StartMigrationResponse;
import dev.migrationd.control.v1.WatchMigrationRequest;
import dev.migrationd.daemon.engine.MigrationEngine;
import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.mockito.ArgumentCaptor;

/** Every RPC of the control API in process, against a mocked engine and hypervisor: answers and every error status. */
class ControlServiceTest {

    private static final String HOST = "hostA";

    private MigrationEngine engine;
    private Hypervisor hypervisor;
    private SimDomains sim;
    private MigrationObserver hub;
    private Server server;
    private ManagedChannel channel;
    private MigrationServiceGrpc.MigrationServiceBlockingStub stub;

    /** A migration handle whose phase, rounds and result the test sets. */
    static final class FakeHandle implements MigrationHandle {
        final MigrationInfo info;
        volatile MigrationPhase phase = new MigrationPhase.Offered();
        volatile RoundStats last;
        final CompletableFuture<MigrationResult> result = new CompletableFuture<>();

        FakeHandle(MigrationInfo info) {
            this.info = info;
        }

        @Override
        public MigrationInfo info() {
            return info;
        }

        @Override
        public MigrationPhase phase() {
            return phase;
        }

        @Override
        public Optional<RoundStats> lastRound() {
            return Optional.ofNullable(last);
        }

        @Override
        public CompletableFuture<MigrationResult> result() {
            return result;
        }

        @Override
        public CancelOutcome cancel() {
            return CancelOutcome.CANCELLED;
        }
    }

    static MigrationInfo info(String id, String key, String domain, String peer) {
        return new MigrationInfo(id, key, domain, peer, Direction.OUTGOING, GuestType.HVM, MigrationOptions.DEFAULTS,
                Instant.parse("2026-11-25T12:00:00Z"));
    }

    static RoundStats round(int n, long dirty) {
        return new RoundStats(n, dirty, dirty, dirty * 4100, 50_000_000L, 1000.0, 1e9, 2_000_000L, dirty / 2, dirty * 4100,
                n * 50_000_000L, 262144, 0);
    }

    static MigrationResult success() {
        return new MigrationResult(MigrationResult.Outcome.SUCCEEDED, "", Duration.ofSeconds(3),
                new MigrationResult.Downtime(Duration.ofMillis(40), Duration.ofMillis(5), Duration.ofMillis(10),
                        Duration.ofMillis(20)), 5, 1_000_000, Optional.of(Duration.ofMillis(33)));
    }

    @BeforeEach
    void setUp() throws Exception {
        engine = mock(MigrationEngine.class);
        hypervisor = mock(Hypervisor.class);
        sim = mock(SimDomains.class);
        when(hypervisor.backend()).thenReturn("sim");
        start(Optional.of(sim));
    }

    private void start(Optional<SimDomains> simDomains) throws Exception {
        stop();
        ControlService service = new ControlService(HOST, engine, hypervisor, simDomains, Clock.systemUTC());
        ArgumentCaptor<MigrationObserver> captor = ArgumentCaptor.forClass(MigrationObserver.class);
        verify(engine, org.mockito.Mockito.atLeastOnce()).addObserver(captor.capture());
        hub = captor.getValue();
        String name = InProcessServerBuilder.generateName();
        server = new ControlServer(List.of(ControlAuthorizerTest.operatorListener(InProcessServerBuilder.forName(name).directExecutor())),
                service).start().serverForTests();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        stub = MigrationServiceGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.shutdownNow();
        }
    }

    private static void assertStatus(Status.Code code, String messagePart, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(String.valueOf(e.getStatus().getDescription()).contains(messagePart),
                "'" + e.getStatus().getDescription() + "' should contain '" + messagePart + "'");
    }

    private static StartMigrationRequest startRequest(String key) {
        return StartMigrationRequest.newBuilder().setDomain("dom7").setDestination("hostB").setIdempotencyKey(key).build();
    }

    // ---- StartMigration ------------------------------------------------------------------------------

    @Test
    void startMigrationPassesOptionsAndReportsCreated() throws Exception {
        ArgumentCaptor<MigrationRequest> req = ArgumentCaptor.forClass(MigrationRequest.class);
        when(engine.start(req.capture())).thenAnswer(inv -> {
            MigrationRequest r = inv.getArgument(0);
            return new FakeHandle(new MigrationInfo(r.id(), r.idempotencyKey(), r.domain(), r.peer(), Direction.OUTGOING,
                    GuestType.HVM, r.options(), Instant.now()));
        });
        StartMigrationResponse r = stub.startMigration(startRequest("k1").toBuilder()
                .setOptions(dev.migrationd.control.v1.MigrationOptions.newBuilder()
                        .setMaxDowntime(com.google.protobuf.Duration.newBuilder().setNanos(250_000_000))
                        .setBandwidthBytesPerSecond(1 << 30).setMaxRounds(7)
                        .setPolicy(dev.migrationd.control.v1.Policy.POLICY_XEN_LEGACY)
                        .setOnTimeout(dev.migrationd.control.v1.TimeoutAction.TIMEOUT_ACTION_FORCE)
                        .setTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(600)).setVerify(true)
                        .setFormat(dev.migrationd.control.v1.StreamFormat.STREAM_FORMAT_V2))
                .build());
        assertTrue(r.getCreated());
        Migration m = r.getMigration();
        assertEquals("dom7", m.getDomain());
        assertEquals(HOST, m.getSourceHost());
        assertEquals("hostB", m.getDestinationHost());
        assertEquals(Phase.PHASE_OFFERED, m.getPhase());
        MigrationOptions o = req.getValue().options();
        assertEquals(Duration.ofMillis(250), o.maxDowntime());
        assertEquals(1L << 30, o.bandwidthCap());
        assertEquals(7, o.maxRounds());
        assertEquals(MigrationOptions.PolicyKind.XEN_LEGACY, o.policy());
        assertEquals(MigrationOptions.TimeoutAction.FORCE, o.onTimeout());
        assertEquals(Duration.ofMinutes(10), o.timeout());
        assertEquals(MigrationOptions.VerifyMode.ON, o.verify());
        assertEquals(MigrationOptions.StreamFormat.V2, o.format());
        assertEquals("k1", req.getValue().idempotencyKey());
    }

    @Test
    void retriedStartWithTheSameKeyReturnsTheFirstMigration() throws Exception {
        FakeHandle first = new FakeHandle(info("m-1", "k1", "dom7", "hostB"));
        when(engine.start(any())).thenReturn(first); // the engine found the key: the earlier migration
        StartMigrationResponse r = stub.startMigration(startRequest("k1"));
        assertFalse(r.getCreated());
        assertEquals("m-1", r.getMigration().getId());
    }

    @Test
    void keyReusedForAnotherDomainIsRefused() throws Exception {
        when(engine.start(any())).thenReturn(new FakeHandle(info("m-1", "k1", "dom8", "hostB")));
        assertStatus(Status.Code.ALREADY_EXISTS, "use a new key", () -> stub.startMigration(startRequest("k1")));
    }

    @Test
    void startMigrationValidatesBeforeTheEngine() {
        assertStatus(Status.Code.INVALID_ARGUMENT, "domain is required",
                () -> stub.startMigration(startRequest("k").toBuilder().setDomain("").build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "destination is required",
                () -> stub.startMigration(startRequest("k").toBuilder().setDestination("").build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "is this daemon",
                () -> stub.startMigration(startRequest("k").toBuilder().setDestination(HOST).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "idempotency_key",
                () -> stub.startMigration(startRequest("a key with spaces")));
        assertStatus(Status.Code.INVALID_ARGUMENT, "options.max_downtime",
                () -> stub.startMigration(startRequest("k").toBuilder().setOptions(dev.migrationd.control.v1.MigrationOptions
                        .newBuilder().setMaxDowntime(com.google.protobuf.Duration.newBuilder().setSeconds(7200))).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "options.max_rounds",
                () -> stub.startMigration(startRequest("k").toBuilder().setOptions(dev.migrationd.control.v1.MigrationOptions
                        .newBuilder().setMaxRounds(20_000)).build()));
    }

    @Test
    void engineRefusalsMapToStatuses() throws Exception {
        when(engine.start(any())).thenThrow(new EngineException.DomainBusyException("dom7", "m-0"));
        assertStatus(Status.Code.FAILED_PRECONDITION, "already migrating", () -> stub.startMigration(startRequest("k")));
        org.mockito.Mockito.reset(engine);
        when(engine.start(any())).thenThrow(new EngineException.UnknownPeerException("hostB"));
        assertStatus(Status.Code.FAILED_PRECONDITION, "unknown peer 'hostB'", () -> stub.startMigration(startRequest("k")));
        org.mockito.Mockito.reset(engine);
        when(engine.start(any())).thenThrow(new EngineException(EngineException.Kind.NOT_FOUND, "no domain dom7"));
        assertStatus(Status.Code.NOT_FOUND, "no domain dom7", () -> stub.startMigration(startRequest("k")));
        org.mockito.Mockito.reset(engine);
        when(engine.start(any())).thenThrow(new EngineException(EngineException.Kind.INTERNAL, "stream broke"));
        assertStatus(Status.Code.INTERNAL, "stream broke", () -> stub.startMigration(startRequest("k")));
        org.mockito.Mockito.reset(engine);
        when(engine.start(any())).thenThrow(new UnsupportedOperationException("MigrationEngine.start is not implemented yet"));
        assertStatus(Status.Code.UNIMPLEMENTED, "not implemented", () -> stub.startMigration(startRequest("k")));
        org.mockito.Mockito.reset(engine);
        when(engine.start(any())).thenThrow(new NullPointerException("oops"));
        assertStatus(Status.Code.INTERNAL, "a bug", () -> stub.startMigration(startRequest("k")));
    }

    // ---- Get / List / Cancel -------------------------------------------------------------------------

    @Test
    void getMigrationShowsRoundAndResult() {
        FakeHandle h = new FakeHandle(info("m-1", null, "dom7", "hostB"));
        h.phase = new MigrationPhase.Done();
        h.last = round(3, 100);
        h.result.complete(success());
        when(engine.find("m-1")).thenReturn(Optional.of(h));
        Migration m = stub.getMigration(GetMigrationRequest.newBuilder().setId("m-1").build());
        assertEquals(Phase.PHASE_SUCCEEDED, m.getPhase());
        assertEquals(3, m.getLastRound().getRound());
        assertEquals(Outcome.OUTCOME_SUCCEEDED, m.getResult().getOutcome());
        assertEquals(75_000_000, m.getResult().getDowntimeSource().getNanos());
        assertEquals(33_000_000, m.getResult().getDowntimeDestination().getNanos(), "reported by the destination");
        assertEquals(5, m.getResult().getRounds());
    }

    @Test
    void getMigrationUnknownOrEmptyId() {
        when(engine.find(any())).thenReturn(Optional.empty());
        assertStatus(Status.Code.NOT_FOUND, "no migration with id nope",
                () -> stub.getMigration(GetMigrationRequest.newBuilder().setId("nope").build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "id is required",
                () -> stub.getMigration(GetMigrationRequest.getDefaultInstance()));
    }

    @Test
    void resolveMigrationPassesTheDecisionAndMapsRefusals() throws Exception {
        FakeHandle h = new FakeHandle(info("m-1", null, "dom7", "hostB"));
        h.phase = new MigrationPhase.Failed("operator resolved: source resumed");
        when(engine.resolve("m-1", dev.migrationd.daemon.engine.run.OperatorDecision.RESUME_SOURCE)).thenReturn(
                new dev.migrationd.daemon.engine.run.Resolved("m-1", "unknown", "operator", h.phase));
        when(engine.find("m-1")).thenReturn(Optional.of(h));
        var r = stub.resolveMigration(dev.migrationd.control.v1.ResolveMigrationRequest.newBuilder().setId("m-1")
                .setDecision(dev.migrationd.control.v1.ResolveDecision.RESOLVE_DECISION_RESUME_SOURCE).build());
        assertEquals("unknown", r.getPeerAnswer());
        assertEquals("operator", r.getDecidedBy());
        assertEquals(Phase.PHASE_FAILED, r.getMigration().getPhase());
        when(engine.resolve("m-1", dev.migrationd.daemon.engine.run.OperatorDecision.CONFIRM_DESTINATION)).thenThrow(
                new EngineException(EngineException.Kind.FAILED_PRECONDITION, "the destination answers NOT_COMMITTED"));
        assertStatus(Status.Code.FAILED_PRECONDITION, "answers NOT_COMMITTED",
                () -> stub.resolveMigration(dev.migrationd.control.v1.ResolveMigrationRequest.newBuilder().setId("m-1")
                        .setDecision(dev.migrationd.control.v1.ResolveDecision.RESOLVE_DECISION_CONFIRM_DESTINATION).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "decision",
                () -> stub.resolveMigration(dev.migrationd.control.v1.ResolveMigrationRequest.newBuilder().setId("m-1").build()));
    }

    @Test
    void cancelMigrationReportsWhatHappened() throws Exception {
        FakeHandle h = new FakeHandle(info("m-1", null, "dom7", "hostB"));
        h.phase = new MigrationPhase.Cancelled();
        when(engine.cancel("m-1")).thenReturn(CancelOutcome.CANCELLED);
        when(engine.find("m-1")).thenReturn(Optional.of(h));
        var r = stub.cancelMigration(CancelMigrationRequest.newBuilder().setId("m-1").build());
        assertEquals(CancelResult.CANCEL_RESULT_CANCELLED, r.getResult());
        assertEquals(Phase.PHASE_CANCELLED, r.getMigration().getPhase());
        when(engine.cancel("x")).thenThrow(new EngineException.UnknownMigrationException("x"));
        assertStatus(Status.Code.NOT_FOUND, "no migration with id x",
                () -> stub.cancelMigration(CancelMigrationRequest.newBuilder().setId("x").build()));
    }

    @Test
    void listMigrationsHonoursTheLimitAndKeepsJournalOutcomes() {
        List<MigrationSummary> all = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            all.add(new MigrationSummary(info("m-" + i, null, "dom" + i, "hostB"), new MigrationPhase.Failed("peer gone"),
                    Optional.empty(), Optional.of(MigrationResult.Outcome.FAILED), "peer gone", Instant.now()));
        }
        when(engine.list()).thenReturn(all);
        var r = stub.listMigrations(ListMigrationsRequest.newBuilder().setLimit(3).build());
        assertEquals(3, r.getMigrationsCount());
        assertEquals(Outcome.OUTCOME_FAILED, r.getMigrations(0).getResult().getOutcome());
        assertEquals("peer gone", r.getMigrations(0).getResult().getMessage());
        assertEquals(5, stub.listMigrations(ListMigrationsRequest.getDefaultInstance()).getMigrationsCount());
        assertStatus(Status.Code.INVALID_ARGUMENT, "limit 5000",
                () -> stub.listMigrations(ListMigrationsRequest.newBuilder().setLimit(5000).build()));
    }

    @Test
    void listMigrationsShowsWhyOneIsInDoubtAndTheDowntimeJournaledWithAnEnd() {
        String hint = "the destination (hostB) has no record of this migration: the guest stays paused here until an operator"
                + " runs migrationctl resolve m-1 --resume-source or --confirm-destination";
        when(engine.list()).thenReturn(List.of(
                new MigrationSummary(info("m-1", null, "dom1", "hostB"), new MigrationPhase.InDoubt(hint), Optional.empty(),
                        Optional.empty(), "", Instant.now()),
                new MigrationSummary(info("m-2", null, "dom2", "hostB"), new MigrationPhase.Failed("destination did not commit"),
                        Optional.empty(), Optional.of(MigrationResult.Outcome.FAILED), "destination did not commit", Instant.now(),
                        Optional.of(Duration.ofMillis(1445)))));
        var r = stub.listMigrations(ListMigrationsRequest.getDefaultInstance());
        assertEquals(Phase.PHASE_IN_DOUBT, r.getMigrations(0).getPhase());
        assertEquals(hint, r.getMigrations(0).getPhaseDetail());
        assertEquals("", r.getMigrations(1).getPhaseDetail());
        assertEquals(1445, ProtoMapping.duration(r.getMigrations(1).getResult().getDowntimeSource()).toMillis());
        assertFalse(r.getMigrations(1).getResult().hasDowntimeDestination());
    }

    // ---- WatchMigration ------------------------------------------------------------------------------

    @Test
    void watchReplaysThenFollowsUntilTheResult() throws Exception {
        MigrationInfo info = info("m-1", null, "dom7", "hostB");
        FakeHandle h = new FakeHandle(info);
        when(engine.find("m-1")).thenReturn(Optional.of(h));
        hub.phaseChanged(info, null, new MigrationPhase.Offered());
        hub.phaseChanged(info, new MigrationPhase.Offered(), new MigrationPhase.PreCopy(0));
        hub.roundCompleted(info, round(0, 1000));

        // a watcher on another thread; events published after it attached must reach it too
        MigrationServiceGrpc.MigrationServiceBlockingStub s = MigrationServiceGrpc.newBlockingStub(channel);
        List<MigrationEvent> got = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread watcher = Thread.ofVirtual().start(() -> {
            try {
                Iterator<MigrationEvent> it = s.watchMigration(WatchMigrationRequest.newBuilder().setId("m-1").build());
                it.forEachRemaining(got::add);
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (got.size() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(3, got.size(), "replayed events");
        hub.roundCompleted(info, round(1, 100));
        hub.phaseChanged(info, new MigrationPhase.PreCopy(1), new MigrationPhase.StopAndCopy());
        hub.phaseChanged(info, new MigrationPhase.StopAndCopy(), new MigrationPhase.Done());
        hub.finished(info, success());
        watcher.join(Duration.ofSeconds(10));
        assertEquals(null, failure.get());
        assertEquals(7, got.size());
        for (int i = 0; i < got.size(); i++) {
            assertEquals(i, got.get(i).getSequence());
            assertEquals("m-1", got.get(i).getMigrationId());
        }
        assertEquals(Phase.PHASE_OFFERED, got.get(0).getPhase().getPhase());
        assertEquals("round 0", got.get(1).getPhase().getDetail());
        assertEquals(1000, got.get(2).getRound().getPagesDirtied());
        assertEquals(4096_000.0, got.get(2).getRound().getDirtyRateBytesPerSecond());
        assertEquals(1, got.get(3).getRound().getRound());
        assertEquals(Phase.PHASE_SUCCEEDED, got.get(5).getPhase().getPhase());
        assertEquals(Outcome.OUTCOME_SUCCEEDED, got.get(6).getResult().getOutcome());
    }

    @Test
    void watchOfAFinishedMigrationGivesPhaseAndResult() {
        FakeHandle h = new FakeHandle(info("m-9", null, "dom7", "hostB"));
        h.phase = new MigrationPhase.Failed("destination refused: name clash");
        h.result.complete(new MigrationResult(MigrationResult.Outcome.FAILED, "destination refused: name clash",
                Duration.ofSeconds(1), MigrationResult.Downtime.NONE, 0, 0));
        when(engine.find("m-9")).thenReturn(Optional.of(h));
        List<MigrationEvent> got = new ArrayList<>();
        stub.watchMigration(WatchMigrationRequest.newBuilder().setId("m-9").build()).forEachRemaining(got::add);
        assertEquals(2, got.size());
        assertEquals(Phase.PHASE_FAILED, got.get(0).getPhase().getPhase());
        assertEquals(Outcome.OUTCOME_FAILED, got.get(1).getResult().getOutcome());
        assertEquals("destination refused: name clash", got.get(1).getResult().getMessage());
    }

    @Test
    void watchUnknownMigration() {
        when(engine.find(any())).thenReturn(Optional.empty());
        assertStatus(Status.Code.NOT_FOUND, "no migration with id zzz",
                () -> stub.watchMigration(WatchMigrationRequest.newBuilder().setId("zzz").build()).hasNext());
    }

    // ---- domains -------------------------------------------------------------------------------------

    private static DomainInfo domainInfo(String name) {
        return new DomainInfo(name, 3, UUID.fromString("00000000-0000-0000-0000-000000000007"), 262144, 2, GuestType.HVM,
                Width.W64, DomainState.RUNNING);
    }

    @Test
    void listDomainsMarksMigratingOnes() throws Exception {
        when(hypervisor.listDomains()).thenReturn(List.of(domainInfo("dom7"), domainInfo("dom8")));
        when(engine.list()).thenReturn(List.of(new MigrationSummary(info("m-1", null, "dom7", "hostB"),
                new MigrationPhase.PreCopy(2), Optional.empty(), Optional.empty(), "", Instant.now())));
        ListDomainsResponse r = stub.listDomains(ListDomainsRequest.getDefaultInstance());
        assertEquals(HOST, r.getHost());
        assertEquals("sim", r.getBackend());
        assertEquals(2, r.getDomainsCount());
        assertEquals(1L << 30, r.getDomains(0).getMemoryBytes());
        assertTrue(r.getDomains(0).getMigrating());
        assertFalse(r.getDomains(1).getMigrating());
        when(hypervisor.listDomains()).thenThrow(new HypervisorException("list", null, "xenstore is down"));
        assertStatus(Status.Code.FAILED_PRECONDITION, "xenstore is down", () -> stub.listDomains(ListDomainsRequest.getDefaultInstance()));
    }

    @Test
    void saveDomain() throws Exception {
        when(engine.save(any())).thenAnswer(inv -> {
            SaveRequest s = inv.getArgument(0);
            return new SaveResult(s.file(), 12345, 1, Duration.ofMillis(80));
        });
        var r = stub.saveDomain(SaveDomainRequest.newBuilder().setDomain("dom7").setPath("/tmp/x/../dom7.save").build());
        assertEquals("/tmp/dom7.save", r.getPath());
        assertEquals(12345, r.getBytesWritten());
        assertStatus(Status.Code.INVALID_ARGUMENT, "must be absolute",
                () -> stub.saveDomain(SaveDomainRequest.newBuilder().setDomain("dom7").setPath("dom7.save").build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "path is required",
                () -> stub.saveDomain(SaveDomainRequest.newBuilder().setDomain("dom7").build()));
        org.mockito.Mockito.doThrow(new EngineException(EngineException.Kind.ALREADY_EXISTS, "/tmp/dom7.save exists; use --force"))
                .when(engine).save(any());
        assertStatus(Status.Code.ALREADY_EXISTS, "use --force",
                () -> stub.saveDomain(SaveDomainRequest.newBuilder().setDomain("dom7").setPath("/tmp/dom7.save").build()));
    }

    @Test
    void restoreDomain() throws Exception {
        Domain d = mock(Domain.class);
        when(d.info()).thenReturn(domainInfo("dom7"));
        when(hypervisor.domain("dom7")).thenReturn(d);
        when(engine.restore(any())).thenAnswer(inv -> {
            RestoreRequest r = inv.getArgument(0);
            return new RestoreResult(r.name(), 999, r.paused(), Duration.ofMillis(300));
        });
        var r = stub.restoreDomain(RestoreDomainRequest.newBuilder().setPath("/tmp/dom7.save").setName("dom7").build());
        assertEquals("dom7", r.getDomain().getName());
        assertEquals(300_000_000, r.getDuration().getNanos());
        assertStatus(Status.Code.INVALID_ARGUMENT, "name is required",
                () -> stub.restoreDomain(RestoreDomainRequest.newBuilder().setPath("/tmp/dom7.save").build()));
        org.mockito.Mockito.doThrow(new EngineException(EngineException.Kind.NOT_FOUND, "no file /tmp/none"))
                .when(engine).restore(any());
        assertStatus(Status.Code.NOT_FOUND, "no file",
                () -> stub.restoreDomain(RestoreDomainRequest.newBuilder().setPath("/tmp/none").setName("d").build()));
    }

    @Test
    void simOnlyCallsOnASimHost() throws Exception {
        when(hypervisor.findDomain("dom7")).thenReturn(Optional.empty());
        when(sim.create(any())).thenReturn(domainInfo("dom7"));
        var created = stub.createDomain(CreateDomainRequest.newBuilder().setName("dom7").setMemoryBytes(1L << 30).setVcpus(2).build());
        assertEquals("dom7", created.getName());

        Domain d = mock(Domain.class);
        when(d.info()).thenReturn(domainInfo("dom7"));
        when(hypervisor.findDomain("dom7")).thenReturn(Optional.of(d));
        when(hypervisor.domain("dom7")).thenReturn(d);
        assertStatus(Status.Code.ALREADY_EXISTS, "exists",
                () -> stub.createDomain(CreateDomainRequest.newBuilder().setName("dom7").setMemoryBytes(4096).build()));
        when(sim.inspect("dom7")).thenReturn(DomainDetails.newBuilder().setMemoryHash("abcd").setWorkloadCounter(42)
                .setAbChecked(true).setAbOk(true).setAbDetail("ok").build());
        when(engine.list()).thenReturn(List.of());
        when(engine.withDomainExclusive(eq("dom7"), eq("inspect"), any())).thenAnswer(
                inv -> inv.<MigrationEngine.DomainAction<?, ?>>getArgument(2).run());
        var details = stub.inspectDomain(InspectDomainRequest.newBuilder().setName("dom7").build());
        assertEquals("abcd", details.getMemoryHash());
        assertEquals("dom7", details.getDomain().getName());
        stub.destroyDomain(DestroyDomainRequest.newBuilder().setName("dom7").build());
        verify(sim).destroy("dom7");

        when(engine.list()).thenReturn(List.of(new MigrationSummary(info("m-1", null, "dom7", "hostB"),
                new MigrationPhase.PreCopy(2), Optional.empty(), Optional.empty(), "", Instant.now())));
        assertStatus(Status.Code.FAILED_PRECONDITION, "is migrating",
                () -> stub.destroyDomain(DestroyDomainRequest.newBuilder().setName("dom7").build()));
        when(engine.withDomainExclusive(eq("dom7"), eq("inspect"), any()))
                .thenThrow(new EngineException.DomainBusyException("dom7", "m-1"));
        assertStatus(Status.Code.FAILED_PRECONDITION, "is migrating (m-1); inspect it when the migration has ended",
                () -> stub.inspectDomain(InspectDomainRequest.newBuilder().setName("dom7").build()));
        when(hypervisor.findDomain("ghost")).thenReturn(Optional.empty());
        assertStatus(Status.Code.NOT_FOUND, "no domain named ghost",
                () -> stub.destroyDomain(DestroyDomainRequest.newBuilder().setName("ghost").build()));
        assertStatus(Status.Code.NOT_FOUND, "no domain named ghost",
                () -> stub.inspectDomain(InspectDomainRequest.newBuilder().setName("ghost").build()));
        when(hypervisor.findDomain("bad")).thenReturn(Optional.empty());
        when(sim.create(any())).thenThrow(new IllegalArgumentException("vcpus 99 outside 1..64"));
        assertStatus(Status.Code.INVALID_ARGUMENT, "vcpus 99",
                () -> stub.createDomain(CreateDomainRequest.newBuilder().setName("bad").setVcpus(99).build()));
    }

    @Test
    void simOnlyCallsElsewhereAreUnimplemented() throws Exception {
        when(hypervisor.backend()).thenReturn("xen");
        start(Optional.empty());
        assertStatus(Status.Code.UNIMPLEMENTED, "only offered by the sim backend",
                () -> stub.createDomain(CreateDomainRequest.newBuilder().setName("d").build()));
        assertStatus(Status.Code.UNIMPLEMENTED, "runs the xen backend",
                () -> stub.destroyDomain(DestroyDomainRequest.newBuilder().setName("d").build()));
        assertStatus(Status.Code.UNIMPLEMENTED, "InspectDomain",
                () -> stub.inspectDomain(InspectDomainRequest.newBuilder().setName("d").build()));
    }

    @Test
    void pathsAndSaveOptionsReachTheEngine() throws Exception {
        ArgumentCaptor<SaveRequest> req = ArgumentCaptor.forClass(SaveRequest.class);
        when(engine.save(req.capture())).thenReturn(new SaveResult(Path.of("/tmp/a"), 1, 3, Duration.ZERO));
        stub.saveDomain(SaveDomainRequest.newBuilder().setDomain("dom7").setPath("/tmp/a").setLive(true).setForce(true)
                .setLeaveRunning(true).setFormat(dev.migrationd.control.v1.StreamFormat.STREAM_FORMAT_V2).build());
        SaveRequest s = req.getValue();
        assertTrue(s.live() && s.overwrite() && s.leaveRunning());
        assertEquals(MigrationOptions.StreamFormat.V2, s.format());
    }
}
