package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.Daemon;
import dev.migrationd.daemon.DaemonConfig;
import dev.migrationd.daemon.LimitsConfig;
import dev.migrationd.daemon.PeerLinkConfig;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On a plaintext peer link ({@code --insecure-peer-link}) there is no certificate to prove anything, so a connection
 * is unauthenticated until its first hand-over message: until then it holds a place in the small budget (here 2
 * per address), has {@code peer-handshake-timeout} to send it, and may send nothing else first (stream data
 * would let it hold buffers before saying who it is).
 */
class PlaintextFirstMessageTest {

    static final Duration TIMEOUT = Duration.ofSeconds(1);
    static final Duration WAIT = Duration.ofSeconds(10);

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

    RawPeerClient connect(Daemon b) throws Exception {
        return RawPeerClient.connect(group, new InetSocketAddress("127.0.0.1", b.peerPort()), null, null, true);
    }

    /**
     * Whether a new connection is reset: the reset can reach the client before its event loop has seen the
     * connect complete (the connect then fails with it) or after (the channel then closes).
     */
    boolean refusedAtOnce(Daemon b) throws Exception {
        RawPeerClient c;
        try {
            c = connect(b);
        } catch (java.net.SocketException reset) {
            return true;
        }
        try (c) {
            return c.awaitClosed(WAIT);
        }
    }

    @Test
    void aConnectionIsUnauthenticatedUntilItsFirstMessage() throws Exception {
        try (Daemon b = Daemon.start(DaemonConfig.resolve(null, Map.of(DaemonConfig.KEY_NAME, "hostB",
                DaemonConfig.KEY_STATE_DIR, dir.resolve("b").toString(), DaemonConfig.KEY_CONTROL_LISTEN, "127.0.0.1:0",
                DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:0", DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0",
                PeerLinkConfig.KEY_INSECURE, "true", LimitsConfig.KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS, "2",
                LimitsConfig.KEY_PEER_HANDSHAKE_TIMEOUT, TIMEOUT.toMillis() + "ms"),
                List.of("hostA=127.0.0.1:1"), List.of("hostA=migrate,query")));
             RawPeerClient first = connect(b);
             RawPeerClient second = connect(b)) {
            // two wait for their first message; the third finds no place and is reset at once
            assertTrue(refusedAtOnce(b), "the third unauthenticated connection from one address is refused");
            assertFalse(first.channel.closeFuture().isDone() || second.channel.closeFuture().isDone());

            // a first message proves as much as a plaintext link can: the connection leaves the budget
            first.send(new HandoverMessage.Query(UUID.randomUUID().toString()));
            RawPeerClient.Event answer = first.next(WAIT);
            assertInstanceOf(HandoverMessage.QueryAnswer.class, assertInstanceOf(RawPeerClient.Got.class, answer).message());
            try (RawPeerClient fourth = connect(b)) {
                long start = System.nanoTime();
                // the place the first one left is free: the fourth waits too, and both are cut off by the timeout
                assertTrue(second.awaitClosed(WAIT) && fourth.awaitClosed(WAIT), "cut off by peer-handshake-timeout");
                Duration took = Duration.ofNanos(System.nanoTime() - start);
                assertTrue(took.compareTo(TIMEOUT.dividedBy(2)) > 0, "the fourth was let in, not refused: " + took.toMillis() + " ms");
            }

            // stream data before any message: closed at once, nothing queued for the engine
            try (RawPeerClient streamFirst = connect(b)) {
                streamFirst.sendRaw(new byte[] {PeerFrame.TYPE_STREAM_DATA, 0, 0, 0x10, 0, 1, 2, 3});
                assertTrue(streamFirst.awaitClosed(TIMEOUT.dividedBy(2)), "stream data before the first message is refused");
            }

            String metrics = IdleConnectionFloodTest.scrape(b.metricsPort());
            assertEquals(1, IdleConnectionFloodTest.counter(metrics, "handshakes_per_address"), metrics);
            assertEquals(2, IdleConnectionFloodTest.counter(metrics, "handshake_timeout"), metrics);
        }
    }
}
