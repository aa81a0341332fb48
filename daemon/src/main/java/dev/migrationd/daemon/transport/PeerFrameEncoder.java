package dev.migrationd.daemon.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.util.List;

/**
 * Writes a {@link PeerFrame} as its 5-octet header followed by the payload buffer itself (no copy: a
 * stream-data payload that wraps guest memory goes to the socket as is). Stateless, so one instance
 * may serve every channel.
 */
@ChannelHandler.Sharable
public final class PeerFrameEncoder extends MessageToMessageEncoder<PeerFrame> {

    public static final PeerFrameEncoder INSTANCE = new PeerFrameEncoder();

    private PeerFrameEncoder() {
        super(PeerFrame.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, PeerFrame frame, List<Object> out) {
        int length = frame.payload().readableBytes();
        int max = frame.type() == PeerFrame.TYPE_ENVELOPE ? PeerFrame.MAX_ENVELOPE_BYTES : PeerFrame.MAX_STREAM_DATA_BYTES;
        int min = frame.type() == PeerFrame.TYPE_COMPRESSED_STREAM_DATA ? PeerFrame.COMPRESSED_HEADER_BYTES + 1 : 1;
        if (length < min || length > max) {
            throw new IllegalArgumentException("frame type " + frame.type() + " length " + length + " outside " + min + ".." + max);
        }
        out.add(ctx.alloc().buffer(PeerFrame.HEADER_BYTES).writeByte(frame.type()).writeInt(length));
        out.add(frame.payload().retain()); // the encoder base class releases the frame itself
    }
}
