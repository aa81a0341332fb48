package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.EngineException;
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
        server = PeerServer.start(transport, new InetSocketAddress("127.0.0.1", 0), peer -> true, accepted::add);
        connector = new NettyPeerConnector(transport, Map.of("dst", server.address()), Map.of());
    }

    @AfterEach
    void tearDown() {
        server.close();
        transport.close();
    }

    @Test
    void messagesAndStreamBytesArriveInOrderAndTheSenderIsHeldBack() throws Exception {
        PeerConnection out = connector.connect("dst");
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

        // a plaintext link hands the connection over with its first message
        PeerConnection in = accepted.poll(10, TimeUnit.SECONDS);
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

    /** The other end of a new connection: on a plaintext link the server hands it over with its first message. */
    private PeerConnection acceptedAfterAFirstMessage(PeerConnection out) throws Exception {
        out.send(new HandoverMessage.Accept("m"));
        PeerConnection in = accepted.poll(10, TimeUnit.SECONDS);
        assertEquals(new HandoverMessage.Accept("m"), message(in));
        return in;
    }

    @Test
    void closingWakesABlockedReceiver() throws Exception {
        PeerConnection out = connector.connect("dst");
        PeerConnection in = acceptedAfterAFirstMessage(out);
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
    void wakeStopsABlockedSenderButLeavesTheConnectionOpenForTheLastWord() throws Exception {
        PeerConnection out = connector.connect("dst");
        PeerConnection in = acceptedAfterAFirstMessage(out);
        AtomicLong sent = new AtomicLong();
        CompletableFuture<Throwable> sender = CompletableFuture.supplyAsync(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment block = arena.allocate(1 << 20);
                while (true) { // the receiver reads nothing: this blocks at the bound
                    out.sendStream(block.asByteBuffer());
                    out.drain();
                    sent.addAndGet(block.byteSize());
                }
            } catch (Exception e) {
                return e;
            }
        }, r -> Thread.ofVirtual().start(r));
        long before;
        do { // until the sender stalls
            before = sent.get();
            Thread.sleep(200);
        } while (sent.get() != before);
        out.wake();
        Throwable woken = sender.get(10, TimeUnit.SECONDS);
        assertInstanceOf(PeerConnection.Woken.class, woken);
        // a receive on the woken connection fails the same way, until the owner resets the wake
        assertThrows(PeerConnection.Woken.class, () -> out.receive(Duration.ofSeconds(5)));
        out.resetWake();
        out.send(new HandoverMessage.Abort("m", "cancelled"));
        long drained = 0;
        while (true) {
            PeerConnection.Inbound item = in.receive(Duration.ofSeconds(10));
            if (item instanceof PeerConnection.StreamData d) {
                drained += d.data().remaining();
                d.release();
                continue;
            }
            assertEquals(new HandoverMessage.Abort("m", "cancelled"), ((PeerConnection.Message) item).message());
            break;
        }
        assertTrue(drained >= sent.get(), "every frame sent before the wake arrives whole: " + drained + " < " + sent.get());
        in.close();
        // the owner learns that the peer closed (how the source sees the destination's clean-up end)
        assertThrows(IOException.class, () -> {
            while (true) {
                out.receive(Duration.ofSeconds(10));
            }
        });
    }

    /**
     * The TLS handler, on an alert from the peer, closes the channel first and reports the alert after,
     * in the same event-loop task; a sender that finds the channel closed in between must still get the
     * alert as the reason, not a bare "closed".
     */
    @Test
    void aSenderGetsTheFailureReportedJustAfterTheChannelClosed() throws Exception {
        java.util.concurrent.atomic.AtomicReference<NettyPeerConnection> made = new java.util.concurrent.atomic.AtomicReference<>();
        io.netty.channel.Channel ch = PeerTransport.connect(transport.bootstrap("dst", server.address().getPort(), made::set),
                server.address());
        NettyPeerConnection out = made.get();
        java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
        ch.eventLoop().execute(() -> {
            ch.close();
            closed.countDown();
            try {
                Thread.sleep(500); // the sender finds the channel closed while the alert is still being handled
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ch.pipeline().fireExceptionCaught(new javax.net.ssl.SSLHandshakeException("Received fatal alert: unknown_ca"));
        });
        assertTrue(closed.await(10, TimeUnit.SECONDS));
        IOException e = assertThrows(IOException.class, () -> out.send(new HandoverMessage.Accept("m")));
        assertTrue(e.getMessage().startsWith("destination dst rejected our certificate: unknown CA"), e.getMessage());
    }

    @Test
    void garbageFromAPeerClosesTheConnection() throws Exception {
        byte[] first = PeerMessages.toEnvelope(new HandoverMessage.Accept("m")).toByteArray();
        try (var raw = new java.net.Socket(server.address().getAddress(), server.address().getPort())) {
            var o = new java.io.DataOutputStream(raw.getOutputStream());
            o.writeByte(PeerFrame.TYPE_ENVELOPE);
            o.writeInt(first.length);
            o.write(first);
            o.flush();
            PeerConnection in = accepted.poll(10, TimeUnit.SECONDS);
            assertEquals(new HandoverMessage.Accept("m"), message(in));
            o.write(new byte[] {0x05, 0, 0, 0, 1, 0});
            o.flush();
            IOException e = assertThrows(IOException.class, () -> in.receive(Duration.ofSeconds(10)));
            assertTrue(e.getMessage().contains("unknown frame type"), e.getMessage());
            assertEquals(-1, raw.getInputStream().read());
        }
    }

    @Test
    void garbageBeforeTheFirstMessageClosesTheConnectionUnheard() throws Exception {
        try (var raw = new java.net.Socket(server.address().getAddress(), server.address().getPort())) {
            raw.getOutputStream().write(new byte[] {0x05, 0, 0, 0, 1, 0});
            raw.getOutputStream().flush();
            assertEquals(-1, raw.getInputStream().read());
            assertEquals(null, accepted.poll(200, TimeUnit.MILLISECONDS), "the engine never gets the connection");
        }
    }

    @Test
    void readingStopsAboveTheHighWaterMarkAndResumesBelowTheLowOne() throws Exception {
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel();
        NettyPeerConnection c = new NettyPeerConnection(ch, "peer", true, PeerLinkSettings.DEFAULT_WRITE_TIMEOUT);
        ch.pipeline().addLast(new PeerFrameDecoder(), c);
        int mib = 1 << 20;
        int frames = (int) (NettyPeerConnection.RECEIVE_HIGH_WATER / mib) + 1;
        for (int i = 0; i < frames; i++) {
            ch.writeInbound(io.netty.buffer.Unpooled.buffer().writeByte(PeerFrame.TYPE_STREAM_DATA).writeInt(mib).writeZero(mib));
            assertEquals(i < frames - 1, ch.config().isAutoRead(), "after frame " + i);
        }
        java.util.List<PeerConnection.StreamData> taken = new java.util.ArrayList<>();
        for (int i = 0; i < frames; i++) {
            taken.add(assertInstanceOf(PeerConnection.StreamData.class, c.receive(Duration.ofSeconds(1))));
        }
        long lowFrames = NettyPeerConnection.RECEIVE_LOW_WATER / mib;
        for (int i = 0; i < frames; i++) {
            taken.get(i).release();
            taken.get(i).release(); // idempotent
            boolean below = frames - (i + 1) < lowFrames;
            assertEquals(below, ch.config().isAutoRead(), "after releasing " + (i + 1));
        }
    }

    @Test
    void outgoingFramesAreDirectWithFewEnoughBuffersForWritev() throws Exception {
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel();
        NettyPeerConnection c = new NettyPeerConnection(ch, "peer", true, PeerLinkSettings.DEFAULT_WRITE_TIMEOUT);
        ch.pipeline().addLast(c);
        java.io.ByteArrayOutputStream expected = new java.io.ByteArrayOutputStream();
        int pieces = NettyPeerConnection.MAX_FRAME_COMPONENTS + 100;
        for (int i = 0; i < pieces; i++) {
            byte[] b = new byte[16];
            java.util.Arrays.fill(b, (byte) i);
            expected.write(b);
            // a heap header every so often, as the stream writer's record headers are, between direct page views
            c.sendStream(i % 100 == 0 ? ByteBuffer.wrap(b) : ByteBuffer.allocateDirect(16).put(b).flip());
        }
        c.drain();
        java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
        int frames = 0;
        Object o;
        while ((o = ch.readOutbound()) != null) {
            PeerFrame.StreamData f = assertInstanceOf(PeerFrame.StreamData.class, o);
            io.netty.buffer.ByteBuf p = f.payload();
            // what epoll needs to writev a frame without copying it first (UnixChannelUtil.isBufferCopyNeededForWrite)
            assertTrue(p.isDirect(), "frame " + frames + " has a heap buffer");
            assertTrue(p.nioBufferCount() <= 1024, // IOV_MAX on Linux
                    "frame " + frames + " has " + p.nioBufferCount() + " buffers");
            got.write(io.netty.buffer.ByteBufUtil.getBytes(p));
            f.release();
            frames++;
        }
        assertEquals(2, frames);
        assertArrayEquals(expected.toByteArray(), got.toByteArray());
    }

    private static HandoverMessage message(PeerConnection c) throws Exception {
        return assertInstanceOf(PeerConnection.Message.class, c.receive(Duration.ofSeconds(10))).message();
    }
}
