package dev.migrationd.daemon.engine.stream;

import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.protocol.ByteSink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Where a migration's or a save's stream bytes go: a peer connection or a file. Counts the bytes.
 * Confined to the thread that drives the stream writer.
 */
public abstract sealed class StreamOut implements ByteSink {

    private long bytes;

    @Override
    public final void write(ByteBuffer data) throws IOException {
        int n = data.remaining();
        put(data);
        bytes += n;
    }

    protected abstract void put(ByteBuffer data) throws IOException;

    /** Blocks until every buffer handed over so far has left our hands (guest-memory views may then be unmapped). */
    public abstract void drain() throws IOException;

    /** Starts writing what was handed over so far; the mark completes when it has left our hands. */
    public PeerConnection.WriteMark mark() throws IOException {
        drain();
        return PeerConnection.WriteMark.DONE;
    }

    /** Stream bytes written so far. */
    public final long bytes() {
        return bytes;
    }

    /**
     * Bytes the stream has taken on its way so far: on a peer link, what went on the wire (frame headers
     * included, after compression); into a file, the stream bytes. A bandwidth cap counts these.
     */
    public long wireBytes() {
        return bytes;
    }

    public static StreamOut to(PeerConnection connection) {
        return new ToPeer(connection);
    }

    public static StreamOut to(FileChannel file) {
        return new ToFile(file);
    }

    /** Bytes go to the peer without copying; {@link #drain} waits for the socket to take them. */
    static final class ToPeer extends StreamOut {
        private final PeerConnection connection;

        ToPeer(PeerConnection connection) {
            this.connection = connection;
        }

        @Override
        protected void put(ByteBuffer data) throws IOException {
            connection.sendStream(data);
        }

        @Override
        public void drain() throws IOException {
            connection.drain();
        }

        @Override
        public PeerConnection.WriteMark mark() throws IOException {
            return connection.mark();
        }

        @Override
        public long wireBytes() {
            long w = connection.streamWireBytes();
            return w < 0 ? bytes() : w;
        }
    }

    /** Bytes are written synchronously; {@link #drain} has nothing to wait for. */
    static final class ToFile extends StreamOut {
        private final FileChannel file;

        ToFile(FileChannel file) {
            this.file = file;
        }

        @Override
        protected void put(ByteBuffer data) throws IOException {
            ByteBuffer d = data.duplicate();
            while (d.hasRemaining()) {
                file.write(d);
            }
        }

        @Override
        public void drain() {
        }
    }
}
