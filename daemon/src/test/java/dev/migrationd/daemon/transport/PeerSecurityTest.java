package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.cli.certs.LabCa;
import dev.migrationd.daemon.Daemon;
import dev.migrationd.daemon.DaemonConfig;
import dev.migrationd.daemon.LogCapture;
import dev.migrationd.daemon.TestCerts;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.tls.PeerTls;
import dev.migrationd.daemon.tls.TlsFiles;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.sim.SimDomainSpec;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import dev.migrationd.hypervisor.sim.WorkloadSpec;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may make a destination do anything, over real TLS and real sockets: a destination daemon hostB
 * (CA1; peers hostA, allowed to migrate and query, and hostC, allowed only to query) and, against it, a
 * process with no certificate, one with a certificate from another CA, one with an expired certificate,
 * one with a valid certificate for hostC that claims to be hostA, and the known peer hostC sending a
 * migration it may not. Each is refused before any domain is built, nothing is journaled, and the
 * refusal is logged with the identity the peer proved or claimed. The source side: a daemon whose
 * certificate the destination refuses fails before any page moves (its guest never paused) with a
 * message naming the problem, and a source refuses a destination whose certificate names another host.
 */
class PeerSecurityTest {

    static final Duration WAIT = Duration.ofSeconds(20);
    static final long GUEST_BYTES = 16L << 20;

    @TempDir
    static Path dir;
    static Path ca1;
    static MultiThreadIoEventLoopGroup group;

    Daemon b;
    LogCapture log;

    @BeforeAll
    static void group() {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        ca1 = dir.resolve("ca1");
    }

    @AfterAll
    static void closeGroup() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @BeforeEach
    void destination() throws Exception {
        log = new LogCapture();
        Path state = Files.createTempDirectory(dir, "b-");
        b = daemon("hostB", state, TestCerts.host(ca1, "hostB"), List.of("hostA=127.0.0.1:1", "hostC=127.0.0.1:1"),
                List.of("hostA=migrate,query", "hostC=query"));
    }

    @AfterEach
    void close() {
        b.close();
        log.close();
    }

    static Daemon daemon(String name, Path state, TlsFiles tls, List<String> peers, List<String> allows) throws Exception {
        Map<String, String> flags = new HashMap<>(Map.of(DaemonConfig.KEY_NAME, name, DaemonConfig.KEY_STATE_DIR, state.toString(),
                DaemonConfig.KEY_CONTROL_LISTEN, "127.0.0.1:0", DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:0",
                DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0"));
        flags.putAll(TestCerts.keys(tls));
        return Daemon.start(DaemonConfig.resolve(null, flags, peers, allows));
    }

    InetSocketAddress bPeer() {
        return new InetSocketAddress("127.0.0.1", b.peerPort());
    }

    /** A TLS client context: trusts CA1 (so the destination's certificate passes), presents {@code issued} if given. */
    static SslContext client(LabCa.Issued issued) throws Exception {
        SslContextBuilder sb = SslContextBuilder.forClient().protocols(PeerTls.PROTOCOL)
                .trustManager(TestCerts.ca(ca1).certificate()).endpointIdentificationAlgorithm(null);
        if (issued != null) {
            sb.keyManager(issued.key(), issued.certificate());
        }
        return sb.build();
    }

    static HandoverMessage.Offer offer(String claimedSource) {
        return new HandoverMessage.Offer(UUID.randomUUID().toString(), claimedSource,
                new DomainShape("victim", UUID.randomUUID(), GUEST_BYTES / 4096, 1, GuestType.HVM, Width.W64),
                MigrationOptions.DEFAULTS);
    }

    /** Nothing was built or journaled on the destination. */
    void assertNothingBuiltOrJournaled() throws Exception {
        assertEquals(List.of(), b.engine().config().hypervisor().listDomains(), "no domain built");
        assertTrue(b.engine().list().isEmpty(), "no migration registered: " + b.engine().list());
        List<Journal.Entry> entries = dev.migrationd.daemon.engine.journal.JournalReader.read(
                Files.readAllBytes(b.config().stateDir().resolve(Journal.FILE_NAME))).entries();
        assertTrue(entries.stream().noneMatch(e -> e.role() == Journal.Role.DESTINATION), "nothing journaled: " + entries);
        Path sim = b.config().stateDir().resolve("sim");
        if (Files.isDirectory(sim)) {
            try (var s = Files.list(sim)) {
                List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.contains("victim")).toList();
                assertEquals(List.of(), left, "no domain directory, not even a half-built one");
            }
        }
    }

    /** Sends an Offer on a connection the destination will refuse at the TLS level; returns how it ended. */
    RawPeerClient.Ended refusedAtTls(SslContext ctx) throws Exception {
        try (RawPeerClient c = RawPeerClient.connect(group, bPeer(), ctx, "hostB", true)) {
            if (c.handshake(WAIT)) {
                c.channel.writeAndFlush(new PeerFrame.Envelope(io.netty.buffer.Unpooled.wrappedBuffer(
                        PeerMessages.toEnvelope(offer("hostA")).toByteArray())));
            }
            while (true) {
                RawPeerClient.Event e = c.next(WAIT);
                if (e == null) {
                    throw new AssertionError("the destination neither answered nor closed the connection in " + WAIT);
                }
                if (e instanceof RawPeerClient.Got g) {
                    throw new AssertionError("the destination answered a refused client: " + g.message());
                }
                RawPeerClient.Ended end = (RawPeerClient.Ended) e;
                assertTrue(c.awaitClosed(WAIT));
                return end;
            }
        }
    }

    @Test
    void aClientWithoutACertificateIsRefused() throws Exception {
        RawPeerClient.Ended end = refusedAtTls(client(null));
        String line = log.await(l -> l.contains("event=peer_refused stage=tls"), WAIT, "refusing the client");
        assertTrue(line.contains("identity=none claimed_identity=none"), line);
        assertTrue(end.cause() != null && PeerTls.isAlertFromPeer(end.cause()), "a TLS alert told the client: " + end.cause());
        assertNothingBuiltOrJournaled();
    }

    @Test
    void aCertificateFromAnotherCaIsRefused() throws Exception {
        LabCa other = LabCa.create("another CA", LabCa.KeyType.EC, Duration.ofDays(1));
        RawPeerClient.Ended end = refusedAtTls(client(other.issue("hostA", LabCa.KeyType.EC, Duration.ofDays(1))));
        String line = log.await(l -> l.contains("event=peer_refused stage=tls"), WAIT, "refusing the client");
        assertTrue(line.contains("claimed_identity=hostA"), "the name the certificate claimed is logged: " + line);
        assertTrue(end.cause() != null && PeerTls.describeFailure(end.cause()).startsWith("unknown CA"),
                "the client hears that its CA is unknown: " + end.cause());
        assertNothingBuiltOrJournaled();
    }

    @Test
    void anExpiredCertificateIsRefused() throws Exception {
        Instant now = Instant.now();
        LabCa.Issued expired = TestCerts.ca(ca1).issue("hostA", LabCa.KeyType.EC, now.minus(Duration.ofDays(2)),
                now.minus(Duration.ofHours(1)));
        RawPeerClient.Ended end = refusedAtTls(client(expired));
        String line = log.await(l -> l.contains("event=peer_refused stage=tls"), WAIT, "refusing the client");
        assertTrue(line.contains("claimed_identity=hostA"), line);
        assertTrue(end.cause() != null && PeerTls.describeFailure(end.cause()).contains("expired"),
                "the client hears that its certificate expired: " + PeerTls.describeFailure(end.cause()));
        assertNothingBuiltOrJournaled();
    }

    @Test
    void aValidCertificateForHostCClaimingHostAIsRejected() throws Exception {
        LabCa.Issued hostC = TestCerts.ca(ca1).issue("hostC", LabCa.KeyType.EC, Duration.ofDays(1));
        HandoverMessage answer = offerAnswer(client(hostC), offer("hostA"));
        HandoverMessage.Reject r = assertInstanceOf(HandoverMessage.Reject.class, answer);
        assertTrue(r.reason().contains("claims to come from hostA but the peer's certificate names hostC"), r.reason());
        String line = log.await(l -> l.contains("event=offer_rejected"), WAIT, "rejecting the offer");
        assertTrue(line.contains("peer=hostA identity=\"certificate names hostC\""), line);
        assertNothingBuiltOrJournaled();
    }

    @Test
    void aKnownPeerNotAllowedToMigrateIsRejected() throws Exception {
        LabCa.Issued hostC = TestCerts.ca(ca1).issue("hostC", LabCa.KeyType.EC, Duration.ofDays(1));
        HandoverMessage.Reject r = assertInstanceOf(HandoverMessage.Reject.class, offerAnswer(client(hostC), offer("hostC")));
        assertTrue(r.reason().contains("peer hostC is not authorised to send migrations here (peer.hostC.allow has no migrate)"),
                r.reason());
        String line = log.await(l -> l.contains("event=offer_rejected"), WAIT, "rejecting the offer");
        assertTrue(line.contains("peer=hostC identity=\"certificate names hostC\""), line);
        assertNothingBuiltOrJournaled();

        // hostC may query; a certificate naming no configured peer may not: the transport refuses it at once
        HandoverMessage q = offerAnswer(client(hostC), new HandoverMessage.Query(UUID.randomUUID().toString()));
        assertInstanceOf(HandoverMessage.QueryAnswer.class, q);
        LabCa.Issued hostD = TestCerts.ca(ca1).issue("hostD", LabCa.KeyType.EC, Duration.ofDays(1));
        try (RawPeerClient c = RawPeerClient.connect(group, bPeer(), client(hostD), "hostB", true)) {
            c.handshake(WAIT); // a TLS 1.3 client may see its side succeed; the destination closes all the same
            assertInstanceOf(RawPeerClient.Ended.class, c.next(WAIT), "the connection of an unknown peer is closed unheard");
        }
        log.await(l -> l.contains("event=peer_refused stage=identity") && l.contains("identity=\"certificate names hostD\"")
                && l.contains("the certificate names no configured peer"), WAIT, "refusing the unknown peer");
    }

    /** Sends one message on a TLS connection the destination accepts; its answer, or null if it closed without one. */
    HandoverMessage offerAnswer(SslContext ctx, HandoverMessage m) throws Exception {
        try (RawPeerClient c = RawPeerClient.connect(group, bPeer(), ctx, "hostB", true)) {
            assertTrue(c.handshake(WAIT), "the handshake succeeds");
            c.send(m);
            RawPeerClient.Event e = c.next(WAIT);
            if (e instanceof RawPeerClient.Got g) {
                return g.message();
            }
            assertInstanceOf(RawPeerClient.Ended.class, e);
            return null;
        }
    }

    /** A source daemon hostA whose certificate the destination refuses, and what its migration reports. */
    @Test
    void aSourceWhoseCertificateIsRefusedFailsBeforeAnyPageMoves() throws Exception {
        Path other = dir.resolve("ca-other-" + UUID.randomUUID());
        TlsFiles foreign = TestCerts.host(other, "hostA");
        // trusts the destination's CA, presents a certificate of another CA
        TlsFiles tls = new TlsFiles(TestCerts.host(ca1, "hostB").ca(), foreign.cert(), foreign.key());
        try (Daemon a = daemon("hostA", Files.createTempDirectory(dir, "a-"), tls, List.of("hostB=127.0.0.1:" + b.peerPort()),
                List.of("hostB=migrate,query"))) {
            MigrationResult r = migrateAndWatch(a, "hostB");
            assertEquals(MigrationResult.Outcome.FAILED, r.outcome(), r.toString());
            assertTrue(r.reason().contains("destination hostB rejected our certificate: unknown CA"), r.reason());
            assertEquals(0, r.bytes(), "no page moved");
            log.await(l -> l.contains("event=peer_refused stage=tls") && l.contains("claimed_identity=hostA"), WAIT, "the refusal");
            assertNothingBuiltOrJournaled();
        }
    }

    @Test
    void aSourceRefusesADestinationWhoseCertificateNamesAnotherHost() throws Exception {
        // "hostB" in hostA's peer list points at a daemon whose (valid) certificate is hostC's
        try (Daemon c = daemon("hostC", Files.createTempDirectory(dir, "c-"), TestCerts.host(ca1, "hostC"),
                List.of("hostA=127.0.0.1:1"), List.of("hostA=migrate,query"));
             Daemon a = daemon("hostA", Files.createTempDirectory(dir, "a-"), TestCerts.host(ca1, "hostA"),
                     List.of("hostB=127.0.0.1:" + c.peerPort()), List.of("hostB=migrate,query"))) {
            MigrationResult r = migrateAndWatch(a, "hostB");
            assertEquals(MigrationResult.Outcome.FAILED, r.outcome(), r.toString());
            assertTrue(r.reason().contains("names hostC (subjectAltName DNS), not hostB"), r.reason());
            assertEquals(List.of(), c.engine().config().hypervisor().listDomains(), "nothing built on the impostor");
        }
    }

    /**
     * SIGHUP's TLS reload (new certificate files from the same CA) on both daemons while a migration runs:
     * the running migration keeps its connection and succeeds, and the next one uses the new files.
     */
    @Test
    void aTlsReloadDuringAMigrationKeepsItRunning() throws Exception {
        Path tlsDir = dir.resolve("reload-" + UUID.randomUUID());
        TlsFiles aFiles = TestCerts.host(tlsDir, "hostA");
        TlsFiles bFiles = TestCerts.host(tlsDir, "hostB");
        try (Daemon b2 = daemon("hostB", Files.createTempDirectory(dir, "b2-"), bFiles, List.of("hostA=127.0.0.1:1"),
                List.of("hostA=migrate,query"));
             Daemon a = daemon("hostA", Files.createTempDirectory(dir, "a-"), aFiles, List.of("hostB=127.0.0.1:" + b2.peerPort()),
                     List.of("hostB=migrate,query"))) {
            SimHypervisor hv = (SimHypervisor) a.engine().config().hypervisor();
            // random contents: zero pages would go without their data and the migration would end at once
            hv.create(new SimDomainSpec("slow", GUEST_BYTES, 1, GuestType.HVM, Width.W64, SimDomainSpec.Fill.RANDOM,
                    WorkloadSpec.IDLE, false));
            // 16 MiB at 4 MiB/s: about four seconds on the wire
            var running = a.engine().start(MigrationRequest.of("slow", "hostB",
                    MigrationOptions.DEFAULTS.withBandwidthCap(4L << 20)));
            Thread.sleep(1_000);
            assertFalse(running.result().isDone(), "still migrating when the files are replaced");
            for (String host : List.of("hostA", "hostB")) {
                LabCa.Issued fresh = TestCerts.ca(tlsDir).issue(host, LabCa.KeyType.RSA, Duration.ofDays(1));
                Files.writeString(tlsDir.resolve(host + ".pem"), LabCa.pem(List.of(fresh.certificate())));
                Files.writeString(tlsDir.resolve(host + ".key"), LabCa.pem(fresh.key(), LabCa.KeyFormat.TRADITIONAL));
            }
            assertTrue(a.reloadTls() && b2.reloadTls(), "both daemons took the new files");
            MigrationResult r = running.result().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.toString());
            assertTrue(b2.engine().config().hypervisor().findDomain("slow").isPresent());
            // a new connection uses the new (RSA) material
            hv.create(SimDomainSpec.of("next", GUEST_BYTES, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
            MigrationResult next = a.engine().start(MigrationRequest.of("next", "hostB", MigrationOptions.DEFAULTS)).result()
                    .get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, next.outcome(), next.toString());
            log.await(l -> l.contains("event=peer_tls_reloaded") && l.contains("hostA"), WAIT, "the reload");
        }
    }

    /**
     * Migrates a new idle guest from {@code a}; asserts the guest was never paused and runs on {@code a}
     * after a failure.
     */
    static MigrationResult migrateAndWatch(Daemon a, String peer) throws Exception {
        SimHypervisor hv = (SimHypervisor) a.engine().config().hypervisor();
        hv.create(SimDomainSpec.of("guest1", GUEST_BYTES, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
        List<String> phases = new CopyOnWriteArrayList<>();
        a.engine().addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                phases.add(to.name());
            }
        });
        MigrationResult r = a.engine().start(MigrationRequest.of("guest1", peer, MigrationOptions.DEFAULTS)).result()
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);
        if (r.outcome() != MigrationResult.Outcome.SUCCEEDED) {
            assertFalse(phases.contains(new MigrationPhase.StopAndCopy().name()), "the guest was never paused: " + phases);
            assertEquals(DomainState.RUNNING, hv.findDomain("guest1").orElseThrow().info().state());
        }
        return r;
    }
}
