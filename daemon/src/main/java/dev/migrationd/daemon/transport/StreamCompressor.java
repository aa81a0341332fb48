package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.engine.run.StreamCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import java.nio.ByteBuffer;

/**
 * Turns the sender's stream-data frames into compressed frames where that pays, and steps aside where it
 * does not: a frame whose compressed block would not be below {@link #WORTH_RATIO} of its size goes as it
 * is (the compressor stops at that size, so the attempt costs little), and after {@link #GIVE_UP_AFTER}
 * such frames in a row it does not try at all for a pause of {@link #FIRST_PAUSE_FRAMES} frames, then probes
 * one frame; each failed probe doubles the pause (up to {@link #MAX_PAUSE_FRAMES}), a frame that compresses
 * ends it. So random memory costs about one attempt in a few hundred frames.
 *
 * <p>Confined to the sending (migration) thread, like the frame it is given.
 */
final class StreamCompressor {

    /** A compressed frame must be below this fraction of the plain one, or the plain one goes. */
    static final double WORTH_RATIO = 0.9;
    /** Frames in a row that did not compress before the compressor pauses. */
    static final int GIVE_UP_AFTER = 4;
    /** The first pause, in frames (a frame is up to 4 MiB). */
    static final int FIRST_PAUSE_FRAMES = 16;
    /** The longest pause, in frames. */
    static final int MAX_PAUSE_FRAMES = 256;

    private final StreamCodec codec;
    /** Gathers a frame of many pieces into one input block; allocated on first need, reused. */
    private ByteBuffer scratch;
    private int missesInRow;
    private int skipLeft;
    private int pause = FIRST_PAUSE_FRAMES;
    /** True for the frame after a pause: one miss then starts the next pause. */
    private boolean probing;
    private long compressedFrames;
    private long plainFrames;
    private long skippedFrames;

    StreamCompressor(StreamCodec codec) {
        if (codec == StreamCodec.NONE || !FrameCodecs.available(codec)) {
            throw new IllegalArgumentException("cannot compress with " + codec.label());
        }
        this.codec = codec;
    }

    StreamCodec codec() {
        return codec;
    }

    /**
     * The frame to write for {@code frame}'s bytes: a compressed frame (then {@code frame} is released here,
     * its bytes having been read), or a plain one wrapping {@code frame} itself.
     */
    PeerFrame encode(CompositeByteBuf frame, ByteBufAllocator alloc) {
        if (skipLeft > 0) {
            skipLeft--;
            skippedFrames++;
            if (skipLeft == 0) {
                probing = true;
            }
            return new PeerFrame.StreamData(frame);
        }
        int n = frame.readableBytes();
        ByteBuffer in = input(frame, n);
        int worth = (int) (n * WORTH_RATIO); // the compressed block must be smaller than this
        ByteBuf out = alloc.directBuffer(PeerFrame.COMPRESSED_HEADER_BYTES + worth);
        int c = FrameCodecs.compress(codec, in, out.nioBuffer(PeerFrame.COMPRESSED_HEADER_BYTES, worth));
        if (c > 0 && c < worth) {
            out.writeByte(FrameCodecs.id(codec)).writeInt(n).writerIndex(PeerFrame.COMPRESSED_HEADER_BYTES + c);
            frame.release();
            compressedFrames++;
            missesInRow = 0;
            probing = false;
            pause = FIRST_PAUSE_FRAMES;
            return new PeerFrame.CompressedStreamData(out);
        }
        out.release();
        plainFrames++;
        if (probing || ++missesInRow >= GIVE_UP_AFTER) {
            pause = probing ? Math.min(pause * 2, MAX_PAUSE_FRAMES) : pause;
            skipLeft = pause;
            missesInRow = 0;
            probing = false;
        }
        return new PeerFrame.StreamData(frame);
    }

    /** The frame's bytes as one direct buffer: the piece itself, or a copy of the pieces into {@link #scratch}. */
    private ByteBuffer input(CompositeByteBuf frame, int n) {
        if (frame.nioBufferCount() == 1) {
            ByteBuffer only = frame.nioBuffer();
            if (only.isDirect()) {
                return only;
            }
        }
        if (scratch == null || scratch.capacity() < n) {
            scratch = ByteBuffer.allocateDirect(Math.max(n, PeerFrame.MAX_STREAM_DATA_BYTES));
        }
        ByteBuffer s = scratch.clear().limit(n);
        frame.getBytes(frame.readerIndex(), s);
        return s.flip();
    }

    /** Frames sent compressed, sent plain after an attempt, and sent plain during a pause (for logs and tests). */
    long compressedFrames() {
        return compressedFrames;
    }

    long plainFrames() {
        return plainFrames;
    }

    long skippedFrames() {
        return skippedFrames;
    }
}
