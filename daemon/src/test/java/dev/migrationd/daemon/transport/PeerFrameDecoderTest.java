package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Framing: golden frames, every split offset, the poison state (bytes through an EmbeddedChannel). */
class PeerFrameDecoderTest {

    /** Envelope{go{migration_id:"m1"}} then 3 stream bytes, as the encoder writes them. */
    static final byte[] GOLDEN = {
            0x01,                         // type ENVELOPE
            0x00, 0x00, 0x00, 0x06,       // length 6
            0x42, 0x04,                   // field 8 (go), wire type 2, length 4
            0x0A, 0x02, 'm', '1',         // Go.migration_id (field 1, type 2), length 2, "m1"
            0x02,                         // type STREAM_DATA
            0x00, 0x00, 0x00, 0x03,       // length 3
            (byte) 0xAA, (byte) 0xBB, (byte) 0xCC,
    };

    @Test
    void encoderWritesTheGoldenBytes() {
        EmbeddedChannel ch = new EmbeddedChannel(PeerFrameEncoder.INSTANCE);
        byte[] env = PeerMessages.toEnvelope(new HandoverMessage.Go("m1")).toByteArray();
        assertTrue(ch.writeOutbound(new PeerFrame.Envelope(Unpooled.wrappedBuffer(env))));
        assertTrue(ch.writeOutbound(new PeerFrame.StreamData(Unpooled.wrappedBuffer(new byte[] {(byte) 0xAA, (byte) 0xBB, (byte) 0xCC}))));
        ByteBuf all = Unpooled.buffer();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            all.writeBytes(b);
            b.release();
        }
        assertArrayEquals(GOLDEN, ByteBufUtil.getBytes(all));
    }

    @Test
    void goldenBytesSplitAtEveryOffsetDecodeTheSame() throws Exception {
        for (int split = 0; split <= GOLDEN.length; split++) {
            EmbeddedChannel ch = new EmbeddedChannel(new PeerFrameDecoder());
            ch.writeInbound(Unpooled.wrappedBuffer(GOLDEN, 0, split));
            ch.writeInbound(Unpooled.wrappedBuffer(GOLDEN, split, GOLDEN.length - split));
            List<PeerFrame> frames = drain(ch);
            assertGolden(frames, "split at " + split);
            // a split inside the stream-data payload hands it on in two pieces, anywhere else in one
            int payloadStart = GOLDEN.length - 3;
            int expectedPieces = split > payloadStart && split < GOLDEN.length ? 2 : 1;
            assertEquals(1 + expectedPieces, frames.size(), "split at " + split);
            frames.forEach(PeerFrame::release);
            assertFalse(ch.finish());
        }
    }

    @Test
    void byteByByteDecodesTheSame() {
        EmbeddedChannel ch = new EmbeddedChannel(new PeerFrameDecoder());
        for (byte x : GOLDEN) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {x}));
        }
        List<PeerFrame> frames = drain(ch);
        assertGolden(frames, "byte by byte");
        assertEquals(1 + 3, frames.size(), "one envelope, the 3 stream bytes one piece each");
        frames.forEach(PeerFrame::release);
    }

    @Test
    void streamDataPiecesAreSlicesOfTheReceiveBuffer() {
        EmbeddedChannel ch = new EmbeddedChannel(new PeerFrameDecoder());
        ByteBuf first = Unpooled.directBuffer().writeByte(PeerFrame.TYPE_STREAM_DATA).writeInt(8).writeLong(0x0102030405060708L);
        first.writerIndex(first.writerIndex() - 3); // 5 of the 8 payload bytes now, 3 later
        ByteBuf second = Unpooled.wrappedBuffer(new byte[] {0x06, 0x07, 0x08});
        ch.writeInbound(first.retain());
        ch.writeInbound(second);
        List<PeerFrame> frames = drain(ch);
        assertEquals(2, frames.size());
        ByteBuf p0 = frames.get(0).payload();
        assertEquals(5, p0.readableBytes());
        // compared by address: the leak detector wraps a sampled buffer, so identity would fail now and then
        assertTrue(first.hasMemoryAddress() && p0.hasMemoryAddress());
        assertEquals(first.memoryAddress() + 5, p0.memoryAddress(), "a view of the read buffer (after the 5-byte header), not a copy");
        ByteBuf joined = Unpooled.wrappedBuffer(p0.retain(), frames.get(1).payload().retain());
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, ByteBufUtil.getBytes(joined));
        joined.release();
        frames.forEach(PeerFrame::release);
        first.release();
        assertEquals(0, first.refCnt(), "every piece released frees the read buffer");
        assertFalse(ch.finish());
    }

    /** One Go envelope, then stream-data pieces that together are exactly the golden payload. */
    private static void assertGolden(List<PeerFrame> frames, String what) {
        PeerFrame.Envelope env = assertInstanceOf(PeerFrame.Envelope.class, frames.get(0), what);
        try {
            assertEquals(new HandoverMessage.Go("m1"), PeerMessages.parse(env.payload().nioBuffer()), what);
        } catch (Exception e) {
            throw new AssertionError(what + ": " + e, e);
        }
        ByteBuf all = Unpooled.buffer();
        for (PeerFrame f : frames.subList(1, frames.size())) {
            PeerFrame.StreamData d = assertInstanceOf(PeerFrame.StreamData.class, f, what);
            assertTrue(d.payload().isReadable(), what + ": empty piece");
            all.writeBytes(d.payload(), d.payload().readerIndex(), d.payload().readableBytes());
        }
        assertArrayEquals(new byte[] {(byte) 0xAA, (byte) 0xBB, (byte) 0xCC}, ByteBufUtil.getBytes(all), what);
    }

    @Test
    void unknownTypePoisonsAndCloses() {
        PeerFrameDecoder decoder = new PeerFrameDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        CorruptedFrameException e = assertThrows(CorruptedFrameException.class,
                () -> ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {0x07, 0, 0, 0, 1, 0})));
        assertTrue(e.getMessage().contains("unknown frame type 0x7"), e.getMessage());
        assertTrue(decoder.poisoned());
        assertFalse(ch.isOpen());
        assertNull(ch.readInbound());
    }

    @Test
    void oversizedLengthsPoisonBeforeAnyAllocation() {
        byte[][] bad = {
                {0x01, 0x00, 0x01, 0x00, 0x01},               // envelope of 65537 > 64 KiB
                {0x02, 0x00, 0x41, 0x00, 0x01},               // stream data of 4 MiB + 64 KiB + 1
                {0x02, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF}, // 4 GiB - 1
                {0x01, 0x00, 0x00, 0x00, 0x00},               // empty envelope
                {0x02, 0x00, 0x00, 0x00, 0x00},               // empty stream data
                {0x03, 0x00, 0x41, 0x00, 0x01},               // compressed stream data over the limit
                {0x03, 0x00, 0x00, 0x00, 0x05},               // compressed: its 5-byte header and no block
        };
        for (byte[] frame : bad) {
            PeerFrameDecoder decoder = new PeerFrameDecoder();
            EmbeddedChannel ch = new EmbeddedChannel(decoder);
            assertThrows(CorruptedFrameException.class, () -> ch.writeInbound(Unpooled.wrappedBuffer(frame)));
            assertTrue(decoder.poisoned());
            assertFalse(ch.isOpen());
        }
    }

    @Test
    void afterPoisonEvenValidFramesAreDiscarded() {
        PeerFrameDecoder decoder = new PeerFrameDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        byte[] badThenGood = new byte[5 + GOLDEN.length];
        badThenGood[0] = 0x09;
        System.arraycopy(GOLDEN, 0, badThenGood, 5, GOLDEN.length);
        assertThrows(CorruptedFrameException.class, () -> ch.writeInbound(Unpooled.wrappedBuffer(badThenGood)));
        assertNull(ch.readInbound());
    }

    @Test
    void aCompressedFrameIsDeliveredWholeHoweverItArrives() {
        EmbeddedChannel ch = new EmbeddedChannel(new PeerFrameDecoder());
        byte[] frame = {0x03, 0, 0, 0, 8, 1, 0, 0, 0x10, 0, 9, 8, 7};
        for (byte b : frame) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
        }
        List<PeerFrame> frames = drain(ch);
        assertEquals(1, frames.size(), "one frame, not pieces");
        assertTrue(frames.get(0) instanceof PeerFrame.CompressedStreamData);
        assertArrayEquals(new byte[] {1, 0, 0, 0x10, 0, 9, 8, 7}, ByteBufUtil.getBytes(frames.get(0).payload()));
        frames.get(0).release();
    }

    @Test
    void theOversizeGoldenIsJustAboveTheLimit() {
        assertEquals(0x00410001, PeerFrame.MAX_STREAM_DATA_BYTES + 1);
    }

    @Test
    void maximumStreamFrameIsAccepted() {
        EmbeddedChannel ch = new EmbeddedChannel(new PeerFrameDecoder());
        ByteBuf frame = Unpooled.buffer().writeByte(2).writeInt(PeerFrame.MAX_STREAM_DATA_BYTES)
                .writeZero(PeerFrame.MAX_STREAM_DATA_BYTES);
        ch.writeInbound(frame);
        PeerFrame f = ch.readInbound();
        assertEquals(PeerFrame.MAX_STREAM_DATA_BYTES, f.payload().readableBytes());
        f.release();
    }

    private static List<PeerFrame> drain(EmbeddedChannel ch) {
        List<PeerFrame> out = new ArrayList<>();
        PeerFrame f;
        while ((f = ch.readInbound()) != null) {
            out.add(f);
        }
        return out;
    }
}
