package dev.migrationd.protocol.verify;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * A stream's bytes, read once from a channel and counted: what detection looked at ahead ({@link #peek}) is handed
 * out again by the next {@link #read}, so the reader sees the stream exactly as it is in the file. Owned by the
 * verifying thread.
 */
final class StreamInput {
    /** Chunk size for skipping and draining. */
    private static final int SCRATCH = 1 << 16;

    private final ReadableByteChannel channel;
    /** Bytes already taken from the channel but not yet handed out (position..limit). */
    private ByteBuffer ahead = ByteBuffer.allocate(0);
    /** Bytes handed out or skipped: the file offset of the next byte. */
    private long position;

    StreamInput(ReadableByteChannel channel) {
        this.channel = channel;
    }

    /** The file offset of the next byte to be read. */
    long position() {
        return position;
    }

    /**
     * Fills {@code dst} up to its limit, or until the end of the stream; returns the number of bytes read, or -1
     * when the stream had ended before anything was read.
     */
    int read(ByteBuffer dst) throws IOException {
        int n = 0;
        while (dst.hasRemaining() && ahead.hasRemaining()) {
            dst.put(ahead.get());
            n++;
        }
        while (dst.hasRemaining()) {
            int r = channel.read(dst);
            if (r < 0) {
                break;
            }
            n += r;
        }
        position += n;
        return n == 0 && dst.hasRemaining() ? -1 : n;
    }

    /** The next {@code n} bytes (fewer at the end of the stream), without consuming them; a read-only view. */
    ByteBuffer peek(int n) throws IOException {
        if (ahead.remaining() < n) {
            ByteBuffer more = ByteBuffer.allocate(n);
            more.put(ahead);
            while (more.hasRemaining() && channel.read(more) >= 0) {
                // fill up to n, or to the end of the stream
            }
            ahead = more.flip();
        }
        return ahead.slice(ahead.position(), Math.min(n, ahead.remaining())).asReadOnlyBuffer();
    }

    /** Consumes up to {@code n} bytes; returns how many there were (fewer only at the end of the stream). */
    long skip(long n) throws IOException {
        long skipped = Math.min(n, ahead.remaining());
        ahead.position(ahead.position() + (int) skipped);
        ByteBuffer scratch = ByteBuffer.allocate(SCRATCH);
        while (skipped < n) {
            scratch.clear().limit((int) Math.min(SCRATCH, n - skipped));
            int r = channel.read(scratch);
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        position += skipped;
        return skipped;
    }

    /** Consumes the rest of the stream; returns how many bytes that was. */
    long drain() throws IOException {
        return skip(Long.MAX_VALUE);
    }
}
