package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.cli.certs.LabCa;
import dev.migrationd.daemon.Daemon;
import dev.migrationd.daemon.DaemonConfig;
import dev.migrationd.daemon.LimitsConfig;
import dev.migrationd.daemon.TestCerts;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admission limits over a real mutual-TLS peer link, from a client holding a valid certificate for an
 * allowed peer: an Offer over {@code max-offer-memory}, an Offer larger than the sim backend's free disk
 * (under every configured limit) and one incoming migration more than {@code max-incoming-migrations} are
 * each rejected with the limit named, before any domain is built, journaled or any disk reserved.
 */
class AdmissionLimitsTest {

    static final Duration WAIT = PeerSecurityTest.WAIT;

    @TempDir
    Path dir;
    static MultiThreadIoEventLoopGroup group;

    @BeforeAll
    static void group() {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterAll
    static void closeGroup() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    Daemon destination(Map<String, String> limits) throws Exception {
        Map<String, String> flags = new HashMap<>(Map.of(DaemonConfig.KEY_NAME, "hostB",
                DaemonConfig.KEY_STATE_DIR, dir.resolve("b").toString(), DaemonConfig.KEY_CONTROL_LISTEN, "127.0.0.1:0",
                DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:0", DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0"));
        flags.putAll(TestCerts.keys(TestCerts.host(dir.resolve("tls"), "hostB")));
        flags.putAll(limits);
        return Daemon.start(DaemonConfig.resolve(null, flags, List.of("hostA=127.0.0.1:1"), List.of("hostA=migrate,query")));
    }

    /** hostA's client context: its certificate from the test CA, trusting that CA. */
    SslContext hostA() throws Exception {
        LabCa ca = TestCerts.ca(dir.resolve("tls"));
        LabCa.Issued a = ca.issue("hostA", LabCa.KeyType.EC, Duration.ofDays(1));
        return io.netty.handler.ssl.SslContextBuilder.forClient().protocols(dev.migrationd.daemon.tls.PeerTls.PROTOCOL)
                .trustManager(ca.certificate()).endpointIdentificationAlgorithm(null)
                .keyManager(a.key(), a.certificate()).build();
    }

    static HandoverMessage.Offer offer(String domain, long bytes) {
        return new HandoverMessage.Offer(UUID.randomUUID().toString(), "hostA",
                new DomainShape(domain, UUID.randomUUID(), bytes / 4096, 1, GuestType.HVM, Width.W64), MigrationOptions.DEFAULTS);
    }

    static HandoverMessage answer(RawPeerClient c, HandoverMessage m) throws Exception {
        c.send(m);
        RawPeerClient.Event e = c.next(WAIT);
        assertInstanceOf(RawPeerClient.Got.class, e, "the destination answers the offer");
        return ((RawPeerClient.Got) e).message();
    }

    HandoverMessage.Reject rejected(Daemon b, HandoverMessage.Offer offer) throws Exception {
        try (RawPeerClient c = RawPeerClient.connect(group, new InetSocketAddress("127.0.0.1", b.peerPort()), hostA(), "hostB", true)) {
            assertTrue(c.handshake(WAIT), "the handshake succeeds");
            return assertInstanceOf(HandoverMessage.Reject.class, answer(c, offer));
        }
    }

    /** No domain, no journal entry as destination, and (sim) no byte of guest memory on disk. */
    static void assertNothingReserved(Daemon b) throws Exception {
        assertEquals(List.of(), b.engine().config().hypervisor().listDomains(), "no domain built");
        List<Journal.Entry> entries = dev.migrationd.daemon.engine.journal.JournalReader.read(
                Files.readAllBytes(b.config().stateDir().resolve(Journal.FILE_NAME))).entries();
        assertTrue(entries.stream().noneMatch(e -> e.role() == Journal.Role.DESTINATION), "nothing journaled: " + entries);
        Path sim = b.config().stateDir().resolve("sim");
        if (Files.isDirectory(sim)) {
            try (Stream<Path> s = Files.walk(sim)) {
                long bytes = s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
                assertTrue(bytes < (1 << 20), "no guest memory reserved on disk: " + bytes + " bytes under " + sim);
            }
        }
    }

    @Test
    void anOfferOverTheMemoryLimitIsRejectedNamingIt() throws Exception {
        try (Daemon b = destination(Map.of(LimitsConfig.KEY_MAX_OFFER_MEMORY, "1GiB"))) {
            HandoverMessage.Reject r = rejected(b, offer("big", 2L << 30));
            assertTrue(r.reason().contains("max-offer-memory 1073741824 bytes"), r.reason());
            assertNothingReserved(b);
        }
    }

    @Test
    void aLargeClaimUnderTheLimitsButOverTheFreeDiskReservesNothing() throws Exception {
        try (Daemon b = destination(Map.of(LimitsConfig.KEY_MAX_OFFER_MEMORY, "64TiB", LimitsConfig.KEY_MAX_INCOMING_MEMORY, "64TiB"))) {
            long free = b.engine().config().hypervisor().freeSpaceForRestore().orElseThrow();
            long claim = (free / 4096 + (1L << 18)) * 4096; // one GiB more than the disk has
            HandoverMessage.Reject r = rejected(b, offer("huge", claim));
            assertTrue(r.reason().contains("not enough free space for the guest's memory (" + claim + " bytes asked"), r.reason());
            assertNothingReserved(b);
        }
    }

    @Test
    void oneIncomingMigrationMoreThanAllowedIsRejectedAndTheFirstGoesOn() throws Exception {
        try (Daemon b = destination(Map.of(LimitsConfig.KEY_MAX_INCOMING_MIGRATIONS, "1"));
             RawPeerClient first = RawPeerClient.connect(group, new InetSocketAddress("127.0.0.1", b.peerPort()), hostA(), "hostB", true)) {
            assertTrue(first.handshake(WAIT));
            assertInstanceOf(HandoverMessage.Accept.class, answer(first, offer("one", 16L << 20)), "the first offer is accepted");
            HandoverMessage.Reject r = rejected(b, offer("two", 16L << 20));
            assertTrue(r.reason().contains("too many incoming migrations (1 running, max-incoming-migrations 1)"), r.reason());
            assertTrue(b.engine().config().hypervisor().findDomain("two").isEmpty(), "the second guest is not built");
            // the first one's source goes away: its copy is destroyed and the place is free again
            first.close();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (b.engine().config().hypervisor().findDomain("one").isPresent() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(b.engine().config().hypervisor().findDomain("one").isEmpty(), "the abandoned copy is destroyed");
            // the place is released when the abandoned run has ended (just after its copy is destroyed)
            HandoverMessage answer;
            do {
                try (RawPeerClient third = RawPeerClient.connect(group, new InetSocketAddress("127.0.0.1", b.peerPort()), hostA(), "hostB", true)) {
                    assertTrue(third.handshake(WAIT));
                    answer = answer(third, offer("three-" + UUID.randomUUID().toString().substring(0, 8), 16L << 20));
                }
                if (answer instanceof HandoverMessage.Reject) {
                    Thread.sleep(100);
                }
            } while (answer instanceof HandoverMessage.Reject && System.nanoTime() < deadline);
            assertInstanceOf(HandoverMessage.Accept.class, answer, "the place was released: " + answer);
        }
    }

    /**
     * A source that, once accepted, sends its stream one byte a second (a frame header announcing 4 KiB, then the
     * bytes one by one: never a whole item, and never idle long enough for idle-timeout) is cut off by the rate
     * floor at the end of its first window, and its copy is destroyed.
     */
    @Test
    void aSourceDribblingOneByteASecondAfterItsOfferIsCutOffByTheRateFloor() throws Exception {
        Duration window = Duration.ofSeconds(2);
        try (Daemon b = destination(Map.of(LimitsConfig.KEY_INCOMING_MIN_RATE, "1KiB/s",
                LimitsConfig.KEY_INCOMING_RATE_WINDOW, window.toSeconds() + "s"));
             RawPeerClient c = RawPeerClient.connect(group, new InetSocketAddress("127.0.0.1", b.peerPort()), hostA(), "hostB", true)) {
            assertTrue(c.handshake(WAIT));
            assertInstanceOf(HandoverMessage.Accept.class, answer(c, offer("slow", 16L << 20)), "the offer is accepted");
            long accepted = System.nanoTime();
            c.sendRaw(new byte[] {PeerFrame.TYPE_STREAM_DATA, 0, 0, 0x10, 0}); // a 4096-byte stream frame begins
            boolean closed = false;
            for (int i = 0; i < DRIBBLE_SECONDS && !closed; i++) {
                try {
                    c.sendRaw(new byte[] {(byte) i});
                } catch (Exception writeAfterClose) { // TLS or socket: the write met the close
                    // the destination has closed the connection already
                }
                closed = c.awaitClosed(Duration.ofSeconds(1));
            }
            Duration took = Duration.ofNanos(System.nanoTime() - accepted);
            assertTrue(closed, "the destination did not cut off a source dribbling 1 byte/s in " + DRIBBLE_SECONDS + " s");
            // idle-timeout (60 s) never expires here: the cut is the rate floor's, at the end of its first window
            assertTrue(took.compareTo(window.plus(CUT_SLACK)) < 0, "cut off after " + took.toMillis() + " ms");
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (b.engine().config().hypervisor().findDomain("slow").isPresent() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(b.engine().config().hypervisor().findDomain("slow").isEmpty(), "the slow source's copy is destroyed");
            var run = b.engine().list().stream().filter(m -> m.info().domain().equals("slow")).findFirst().orElseThrow();
            while (run.outcome().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
                run = b.engine().list().stream().filter(m -> m.info().domain().equals("slow")).findFirst().orElseThrow();
            }
            assertEquals(java.util.Optional.of(dev.migrationd.daemon.engine.run.MigrationResult.Outcome.FAILED), run.outcome());
            assertTrue(run.reason().contains("below the minimum rate of 1024 bytes/s (incoming-min-rate)"), run.reason());
        }
    }

    /** How long the dribbling source keeps trying at most. */
    static final int DRIBBLE_SECONDS = 30;
    /** Time allowed past the rate window for the cut (scheduling on a loaded 2-core machine, the close). */
    static final Duration CUT_SLACK = Duration.ofSeconds(8);
}
