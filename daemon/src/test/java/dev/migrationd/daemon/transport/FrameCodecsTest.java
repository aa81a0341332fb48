package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.StreamCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Compressed frames: round trip through {@link StreamCompressor} and {@link FrameCodecs}, and what a peer may not send. */
class FrameCodecsTest {

    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    /** Pages as a zero-filled guest looks after its workload touched them: a counter, then zeros. */
    static byte[] compressiblePages(int pages, long seed) {
        byte[] b = new byte[pages * 4096];
        Random r = new Random(seed);
        for (int p = 0; p < pages; p++) {
            for (int i = 0; i < 64; i++) {
                b[p * 4096 + i * 8] = (byte) r.nextInt(4);
            }
        }
        return b;
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A frame as the sender gathers it: several direct pieces (page views), one heap piece copied to direct. */
    static CompositeByteBuf frameOf(byte[] data, int pieces) {
        CompositeByteBuf c = Unpooled.compositeBuffer(1024);
        int per = data.length / pieces;
        for (int i = 0; i < pieces; i++) {
            int from = i * per;
            int to = i == pieces - 1 ? data.length : from + per;
            ByteBuf d = Unpooled.directBuffer(to - from).writeBytes(data, from, to - from);
            c.addComponent(true, d);
        }
        return c;
    }

    static byte[] bytes(ByteBuf b) {
        byte[] out = new byte[b.readableBytes()];
        b.getBytes(b.readerIndex(), out);
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = StreamCodec.class, names = {"LZ4", "ZSTD"})
    void aCompressibleFrameRoundTripsSmaller(StreamCodec codec) throws Exception {
        byte[] data = compressiblePages(1024, 1);
        StreamCompressor c = new StreamCompressor(codec);
        PeerFrame f = c.encode(frameOf(data, 7), ALLOC);
        assertTrue(f instanceof PeerFrame.CompressedStreamData, "compressible pages go compressed: " + f);
        int wire = f.payload().readableBytes();
        assertTrue(wire < data.length / 10, codec + ": " + wire + " bytes for " + data.length);
        ByteBuf back = FrameCodecs.decompress(codec, f.payload(), ALLOC);
        try {
            assertArrayEquals(data, bytes(back));
        } finally {
            back.release();
            f.release();
        }
        assertEquals(1, c.compressedFrames());
    }

    @ParameterizedTest
    @EnumSource(value = StreamCodec.class, names = {"LZ4", "ZSTD"})
    void randomMemoryGoesPlainAndTheCompressorStepsAsideThenProbesAgain(StreamCodec codec) {
        StreamCompressor c = new StreamCompressor(codec);
        byte[] random = randomBytes(1 << 20, 2);
        // GIVE_UP_AFTER attempts, then a pause of FIRST_PAUSE_FRAMES frames without an attempt
        for (int i = 0; i < StreamCompressor.GIVE_UP_AFTER + StreamCompressor.FIRST_PAUSE_FRAMES; i++) {
            CompositeByteBuf frame = frameOf(random, 3);
            PeerFrame f = c.encode(frame, ALLOC);
            assertTrue(f instanceof PeerFrame.StreamData, "random bytes go plain");
            assertTrue(f.payload() == frame, "the plain frame is the sender's own buffer, not a copy");
            f.release();
        }
        assertEquals(StreamCompressor.GIVE_UP_AFTER, c.plainFrames(), "attempts before the pause");
        assertEquals(StreamCompressor.FIRST_PAUSE_FRAMES, c.skippedFrames(), "frames sent without an attempt");
        // the probe after the pause fails: the next pause is twice as long
        c.encode(frameOf(random, 1), ALLOC).release();
        assertEquals(StreamCompressor.GIVE_UP_AFTER + 1, c.plainFrames());
        for (int i = 0; i < 2 * StreamCompressor.FIRST_PAUSE_FRAMES; i++) {
            c.encode(frameOf(compressiblePages(16, i), 1), ALLOC).release(); // skipped even though it would compress
        }
        assertEquals(3L * StreamCompressor.FIRST_PAUSE_FRAMES, c.skippedFrames());
        assertEquals(0, c.compressedFrames());
        // the next probe meets compressible memory: compressing resumes at once
        PeerFrame f = c.encode(frameOf(compressiblePages(256, 9), 2), ALLOC);
        assertTrue(f instanceof PeerFrame.CompressedStreamData, "the probe compresses: " + f);
        f.release();
        PeerFrame g = c.encode(frameOf(compressiblePages(256, 10), 2), ALLOC);
        assertTrue(g instanceof PeerFrame.CompressedStreamData);
        g.release();
        assertEquals(2, c.compressedFrames());
    }

    @ParameterizedTest
    @EnumSource(value = StreamCodec.class, names = {"LZ4", "ZSTD"})
    void aBlockThatBarelyCompressesGoesPlain(StreamCodec codec) {
        // half random, half zero: compresses to about 50%, so it goes compressed; 95% random does not
        byte[] mostlyRandom = randomBytes(1 << 20, 3);
        java.util.Arrays.fill(mostlyRandom, 0, (1 << 20) / 20, (byte) 0);
        PeerFrame f = new StreamCompressor(codec).encode(frameOf(mostlyRandom, 2), ALLOC);
        assertTrue(f instanceof PeerFrame.StreamData, "a block not below " + StreamCompressor.WORTH_RATIO + " of its size goes plain");
        f.release();
    }

    /** A compressed payload as a peer might craft it. */
    static ByteBuf payload(byte id, long declared, byte[] block) {
        return Unpooled.buffer().writeByte(id).writeInt((int) declared).writeBytes(block);
    }

    static byte[] lz4Block(byte[] data) {
        ByteBuffer out = ByteBuffer.allocateDirect(data.length + data.length / 255 + 64);
        int n = FrameCodecs.compress(StreamCodec.LZ4, ByteBuffer.allocateDirect(data.length).put(data).flip(), out);
        byte[] b = new byte[n];
        out.get(0, b);
        return b;
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(longs = {FrameCodecs.MAX_DECOMPRESSED_BYTES + 1L, 1L << 31, 0xFFFF_FFFFL})
    void aDeclaredSizeAboveTheLimitIsRefusedBeforeAnythingIsAllocated(long declared) {
        ByteBuf p = payload(FrameCodecs.ID_LZ4, declared, lz4Block(new byte[4096]));
        PeerProtocolException e = assertThrows(PeerProtocolException.class,
                () -> FrameCodecs.decompress(StreamCodec.LZ4, p, new RefusingAllocator()));
        assertTrue(e.getMessage().contains("MAX_DECOMPRESSED_BYTES") && e.getMessage().contains(
                Integer.toString(FrameCodecs.MAX_DECOMPRESSED_BYTES)), e.getMessage());
        p.release();
    }

    @ParameterizedTest
    @EnumSource(value = StreamCodec.class, names = {"LZ4", "ZSTD"})
    void aBombThatUnderstatesItsSizeIsRefused(StreamCodec codec) throws Exception {
        // 4 MiB of zeros compress to a few KiB; the frame claims 64 KiB
        byte[] zeros = new byte[FrameCodecs.MAX_DECOMPRESSED_BYTES];
        StreamCompressor c = new StreamCompressor(codec);
        PeerFrame f = c.encode(frameOf(zeros, 1), ALLOC);
        ByteBuf p = f.payload();
        p.setInt(p.readerIndex() + 1, 64 << 10);
        PeerProtocolException e = assertThrows(PeerProtocolException.class, () -> FrameCodecs.decompress(codec, p, ALLOC));
        assertTrue(e.getMessage().contains(codec.label()), e.getMessage());
        f.release();
    }

    @ParameterizedTest
    @EnumSource(value = StreamCodec.class, names = {"LZ4", "ZSTD"})
    void aBlockShorterThanDeclaredIsRefused(StreamCodec codec) {
        PeerFrame f = new StreamCompressor(codec).encode(frameOf(compressiblePages(64, 4), 1), ALLOC);
        ByteBuf p = f.payload();
        p.setInt(p.readerIndex() + 1, 65 * 4096);
        PeerProtocolException e = assertThrows(PeerProtocolException.class, () -> FrameCodecs.decompress(codec, p, ALLOC));
        assertTrue(e.getMessage().contains(Integer.toString(65 * 4096)), e.getMessage());
        f.release();
    }

    @org.junit.jupiter.api.Test
    void compressedFramesNeedTheNegotiatedCodec() {
        ByteBuf p = payload(FrameCodecs.ID_LZ4, 4096, lz4Block(new byte[4096]));
        assertTrue(assertThrows(PeerProtocolException.class, () -> FrameCodecs.decompress(StreamCodec.NONE, p, ALLOC))
                .getMessage().contains("negotiated no compression"));
        assertTrue(assertThrows(PeerProtocolException.class, () -> FrameCodecs.decompress(StreamCodec.ZSTD, p, ALLOC))
                .getMessage().contains("codec id 1"));
        p.release();
    }

    @org.junit.jupiter.api.Test
    void garbageIsACorruptBlockNotAnotherException() {
        ByteBuf p = payload(FrameCodecs.ID_LZ4, 4096, randomBytes(300, 5));
        PeerProtocolException e = assertThrows(PeerProtocolException.class, () -> FrameCodecs.decompress(StreamCodec.LZ4, p, ALLOC));
        assertTrue(e.getMessage().startsWith("corrupt lz4 block") || e.getMessage().contains("holds"), e.getMessage());
        p.release();
    }

    /** Fails any allocation: a refused frame must be refused before its declared size sizes a buffer. */
    private static final class RefusingAllocator extends io.netty.buffer.AbstractByteBufAllocator {
        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            throw new AssertionError("allocated " + initialCapacity + " bytes for a refused frame");
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            throw new AssertionError("allocated " + initialCapacity + " bytes for a refused frame");
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }
}
