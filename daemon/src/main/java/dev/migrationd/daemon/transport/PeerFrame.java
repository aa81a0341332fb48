package dev.migrationd.daemon.transport;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/**
 * One frame on a peer connection. Octet layout (big-endian):
 *
 * <pre>
 *  0      1              5
 * +------+--------------+---------------------------+
 * | type | length (u32) | payload (length octets)   |
 * +------+--------------+---------------------------+
 *   0x01 ENVELOPE     payload = one protobuf {@code migrationd.peer.v1.Envelope}, 1..{@link #MAX_ENVELOPE_BYTES}
 *   0x02 STREAM_DATA  payload = save-stream bytes, 1..{@link #MAX_STREAM_DATA_BYTES}
 *   0x03 COMPRESSED_STREAM_DATA  payload = u8 codec, u32 decompressed length, compressed block;
 *                     {@link #COMPRESSED_HEADER_BYTES}+1..{@link #MAX_STREAM_DATA_BYTES}; only once the
 *                     hand-over negotiated that codec ({@link FrameCodecs})
 * </pre>
 *
 * <p>Frames own their payload buffer (reference counted): whoever takes a frame releases it.
 */
public sealed interface PeerFrame extends ReferenceCounted {


    /** Bytes of the frame header (type + length). */
    int HEADER_BYTES = 5;
    /** Largest envelope payload: hand-over messages are small (ids, names, a shape). */
    int MAX_ENVELOPE_BYTES = 64 * 1024;
    /**
     * Largest stream-data payload: one whole page batch (1024 pages, its PFN array and chunk header) fits.
     * A sender splits larger items (a big tail record). The receiver's decoder hands a payload on in pieces
     * as it arrives (PeerFrameDecoder), and the stream reader copies each page straight from those pieces
     * into guest memory.
     */
    int MAX_STREAM_DATA_BYTES = (4 << 20) + (64 << 10);

    /** Bytes before the compressed block in a compressed frame's payload: codec id, decompressed length. */
    int COMPRESSED_HEADER_BYTES = 5;

    byte TYPE_ENVELOPE = 0x01;
    byte TYPE_STREAM_DATA = 0x02;
    byte TYPE_COMPRESSED_STREAM_DATA = 0x03;

    ByteBuf payload();

    /** The type octet of this frame. */
    byte type();

    /** An envelope frame (its payload is parsed by {@link PeerMessages}). */
    record Envelope(ByteBuf payload) implements PeerFrame, Delegating {
        public byte type() {
            return TYPE_ENVELOPE;
        }
    }

    /** A stream-data frame: raw save-stream bytes. */
    record StreamData(ByteBuf payload) implements PeerFrame, Delegating {
        public byte type() {
            return TYPE_STREAM_DATA;
        }
    }

    /**
     * A compressed stream-data frame, delivered whole: its payload is decompressed (and checked) by the
     * connection that negotiated the codec.
     */
    record CompressedStreamData(ByteBuf payload) implements PeerFrame, Delegating {
        public byte type() {
            return TYPE_COMPRESSED_STREAM_DATA;
        }
    }

    /** Reference counting delegated to the payload. */
    interface Delegating extends ReferenceCounted {
        ByteBuf payload();

        @Override
        default int refCnt() {
            return payload().refCnt();
        }

        @Override
        default ReferenceCounted retain() {
            payload().retain();
            return this;
        }

        @Override
        default ReferenceCounted retain(int increment) {
            payload().retain(increment);
            return this;
        }

        @Override
        default ReferenceCounted touch() {
            payload().touch();
            return this;
        }

        @Override
        default ReferenceCounted touch(Object hint) {
            payload().touch(hint);
            return this;
        }

        @Override
        default boolean release() {
            return payload().release();
        }

        @Override
        default boolean release(int decrement) {
            return payload().release(decrement);
        }
    }
}
