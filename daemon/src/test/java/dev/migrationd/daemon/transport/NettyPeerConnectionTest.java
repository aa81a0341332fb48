package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.EngineException;
import dev.migrationd.daemon.engine.HandoverMessage;
import dev.migrationd.daemon.engine.PeerConnection;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Loopback TCP through the real pipeline: ordering of messages and stream bytes, backpressure, close. */
class NettyPeerConnectionTest {

    private PeerTransport transport;
    private PeerServer server;
    private final LinkedBlockingQueue<PeerConnection> accepted = new LinkedBlockingQueue<>();
    private NettyPeerConnector connector;

    @BeforeEach
    void setUp() throws IOException {
        transport = new PeerTransport();
        server = PeerServer.start(transport, new InetSocketAddress("127.0.0.1", 0), accepted::add);
        connector = new NettyPeerConnector(transport, Map.of("dst", server.address()));
    }

    @AfterEach
    void tearDown() {
        server.close();
        transport.close();
    }

    @Test
    void messagesAndStreamBytesArriveInOrderAndTheSenderIsHeldBack() throws Exception {
        PeerConnection out = connector.connect("dst");
        PeerConnection in = accepted.poll(10, TimeUnit.SECONDS);
        long total = 64L << 20;
        AtomicLong sent = new AtomicLong();
        MessageDigest sentDigest = MessageDigest.getInstance("SHA-256");
        CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
            try (Arena arena = Arena.ofConfined()) {
                out.send(new HandoverMessage.Accept("m"));
                MemorySegment block = arena.allocate(1 << 20);
                for (int i = 0; sent.get() < total; i++) {
                    block.fill((byte) i);
                    ByteBuffer view = block.asByteBuffer();
                    sentDigest.update(view.duplicate());
                    out.sendStream(view);
                    out.drain(); // the block is reused: wait until the socket has it
                    sent.addAndGet(block.byteSize());
                }
                out.send(new HandoverMessage.Go("m"));
                out.drain();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofVirtual().start(r));

        assertEquals(new HandoverMessage.Accept("m"), message(in));
        // the receiver applies nothing for a while: the sender must stall at the buffers' bound
        Thread.sleep(500);
        long bound = NettyPeerConnection.WRITE_HIGH_WATER + NettyPeerConnection.RECEIVE_HIGH_WATER + (24L << 20);
        assertTrue(sent.get() < bound, "sender ran ahead of the receiver: " + sent.get() + " bytes");
        assertTrue(sent.get() < total);

        MessageDigest got = MessageDigest.getInstance("SHA-256");
        long received = 0;
        while (received < total) {
            PeerConnection.Inbound item = in.receive(Duration.ofSeconds(10));
            PeerConnection.StreamData d = assertInstanceOf(PeerConnection.StreamData.class, item);
            ByteBuffer b = d.data();
            received += b.remaining();
            got.update(b);
            d.release();
        }
        assertEquals(new HandoverMessage.Go("m"), message(in));
        sender.get(10, TimeUnit.SECONDS);
        assertEquals(total, received);
        assertArrayEquals(sentDigest.digest(), got.digest());
        out.close();
        assertThrows(IOException.class, () -> in.receive(Duration.ofSeconds(10)));
    }

    @Test
    void unknownPeerIsRefused() {
        assertThrows(EngineException.UnknownPeerException.class, () -> connector.connect("nobody"));
    }

    @Test
    void closingWakesABlockedReceiver() throws Exception {
        PeerConnection out = connector.connect("dst");
        PeerConnection in = accepted.poll(10, TimeUnit.SECONDS);
        CompletableFuture<Throwable> r = CompletableFuture.supplyAsync(() -> {
            try {
                in.receive(Duration.ofSeconds(30));
                return null;
            } catch (Exception e) {
                return e;
            }
        }, x -> Thread.ofVirtual().start(x));
        out.close();
        assertInstanceOf(IOException.class, r.get(10, TimeUnit.SECONDS));
        assertThrows(IOException.class, () -> out.send(new HandoverMessage.Go("m")));
    }

    @Test
    void garbageFromAPeerClosesTheConnection() throws Exception {
        try (var raw = new java.net.Socket(server.address().getAddress(), server.address().getPort())) {
            PeerConnection in = accepted.poll(10, TimeUnit.SECONDS);
            raw.getOutputStream().write(new byte[] {0x05, 0, 0, 0, 1, 0});
            raw.getOutputStream().flush();
            IOException e = assertThrows(IOException.class, () -> in.receive(Duration.ofSeconds(10)));
            assertTrue(e.getMessage().contains("unknown frame type"), e.getMessage());
            assertEquals(-1, raw.getInputStream().read());
        }
    }

    private static HandoverMessage message(PeerConnection c) throws Exception {
        return assertInstanceOf(PeerConnection.Message.class, c.receive(Duration.ofSeconds(10))).message();
    }
}
