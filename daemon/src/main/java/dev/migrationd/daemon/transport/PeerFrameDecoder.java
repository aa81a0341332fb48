package dev.migrationd.daemon.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import java.util.List;

/**
 * Frames the bytes of a peer connection into {@link PeerFrame}s; it parses nothing inside them
 * (the decoder frames, the protocol parses). A frame with an unknown type or a length outside
 * its bound poisons the decoder: every later byte is discarded, a {@link CorruptedFrameException} naming
 * the problem goes down the pipeline and the channel is closed.
 *
 * <p>Threading: a decoder instance belongs to one channel and runs only on its event loop.
 *
 * <p>Stream-data payloads are retained slices of the receive buffer (no copy), handed on as their bytes
 * arrive: a stream-data frame that spans several socket reads comes out as several {@link PeerFrame.StreamData}
 * pieces (each non-empty, together exactly the frame's payload). Waiting for the whole frame would make
 * ByteToMessageDecoder copy every read into a growing cumulation buffer (measured: the receiving daemon
 * copied each stream byte twice, socket buffer to cumulation to guest memory); the save stream is a byte
 * stream for the engine, so frame boundaries carry no meaning there. Envelopes and compressed stream-data
 * frames (a compressed block decodes only whole) are delivered whole.
 */
public final class PeerFrameDecoder extends ByteToMessageDecoder {

    private enum State {
        HEADER,
        PAYLOAD,
        /** A violation was seen: discard everything. */
        POISONED
    }

    // event-loop confined
    private State state = State.HEADER;
    private byte type;
    /** Payload bytes of the current frame not yet handed on. */
    private int length;
    private long offset;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (true) {
            switch (state) {
                case POISONED -> {
                    in.skipBytes(in.readableBytes());
                    return;
                }
                case HEADER -> {
                    if (in.readableBytes() < PeerFrame.HEADER_BYTES) {
                        return;
                    }
                    byte t = in.readByte();
                    long len = in.readUnsignedInt();
                    String problem = check(t, len);
                    if (problem != null) {
                        poison(ctx, in, problem);
                        return;
                    }
                    type = t;
                    length = (int) len;
                    offset += PeerFrame.HEADER_BYTES;
                    state = State.PAYLOAD;
                }
                case PAYLOAD -> {
                    if (type == PeerFrame.TYPE_STREAM_DATA) {
                        // what has arrived of the payload, now (see the class comment)
                        int n = Math.min(in.readableBytes(), length);
                        if (n == 0) {
                            return;
                        }
                        out.add(new PeerFrame.StreamData(in.readRetainedSlice(n)));
                        length -= n;
                        offset += n;
                    } else {
                        if (in.readableBytes() < length) {
                            return;
                        }
                        ByteBuf whole = in.readRetainedSlice(length);
                        out.add(type == PeerFrame.TYPE_ENVELOPE ? new PeerFrame.Envelope(whole)
                                : new PeerFrame.CompressedStreamData(whole));
                        offset += length;
                        length = 0;
                    }
                    if (length == 0) {
                        state = State.HEADER;
                    }
                }
            }
        }
    }

    private static String check(byte type, long length) {
        return switch (type) {
            case PeerFrame.TYPE_ENVELOPE -> length < 1 || length > PeerFrame.MAX_ENVELOPE_BYTES
                    ? "envelope length " + length + " outside 1.." + PeerFrame.MAX_ENVELOPE_BYTES : null;
            case PeerFrame.TYPE_STREAM_DATA -> length < 1 || length > PeerFrame.MAX_STREAM_DATA_BYTES
                    ? "stream-data length " + length + " outside 1.." + PeerFrame.MAX_STREAM_DATA_BYTES : null;
            case PeerFrame.TYPE_COMPRESSED_STREAM_DATA -> length <= PeerFrame.COMPRESSED_HEADER_BYTES
                    || length > PeerFrame.MAX_STREAM_DATA_BYTES ? "compressed stream-data length " + length + " outside "
                    + (PeerFrame.COMPRESSED_HEADER_BYTES + 1) + ".." + PeerFrame.MAX_STREAM_DATA_BYTES : null;
            default -> "unknown frame type 0x" + Integer.toHexString(type & 0xFF);
        };
    }

    private void poison(ChannelHandlerContext ctx, ByteBuf in, String problem) {
        state = State.POISONED;
        in.skipBytes(in.readableBytes());
        String message = problem + " at connection offset " + offset;
        // logged by whoever owns the connection then: the protocol handler for a proven peer, the transport's
        // rate-limited refusal log for one that has not proven itself
        ctx.fireExceptionCaught(new CorruptedFrameException(message));
        ctx.close();
    }

    /** Whether a violation was seen (for tests). */
    boolean poisoned() {
        return state == State.POISONED;
    }
}
