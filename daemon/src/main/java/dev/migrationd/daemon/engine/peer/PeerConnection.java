package dev.migrationd.daemon.engine.peer;

import dev.migrationd.daemon.engine.run.StreamCodec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;

/**
 * One connection to another daemon, as the engine uses it: hand-over messages and save-stream bytes
 * on the same ordered channel. Implemented by the transport (Netty) and by in-memory test doubles.
 *
 * <p>Threading: one migration's virtual thread owns the connection; {@link #close} and {@link #wake} may
 * also be called from another thread (cancel), which makes a blocked call fail with an IOException.
 */
public interface PeerConnection extends AutoCloseable {

    /**
     * The other daemon's peer name as configured here, for outgoing connections; for incoming ones a label
     * for logs (the name the peer claims is in its messages, and {@link #credentials()} says whether it may).
     */
    String peerName();

    /**
     * What the transport proved about the other end (its verified certificate's names), before the engine
     * got the connection. The default, for in-memory doubles, proves nothing.
     */
    default PeerCredentials credentials() {
        return PeerCredentials.UNAUTHENTICATED;
    }

    /** Sends a hand-over message (queued in order with stream data; flushed). */
    void send(HandoverMessage message) throws IOException;

    /**
     * Sends save-stream bytes. Blocks while the connection is not writable (backpressure). The buffer
     * may be a view of guest memory and is sent without copying: its contents must stay valid until
     * {@link #drain()} returns or a {@link #mark()} taken after it completes; the position of {@code data}
     * is not changed.
     */
    void sendStream(ByteBuffer data) throws IOException;

    /** Blocks until everything passed to {@link #sendStream} has been written to the socket. */
    void drain() throws IOException;

    /**
     * Starts writing everything passed to {@link #sendStream} so far and returns a handle that completes
     * when it is on the socket, so the caller can keep going (and unmap those views later). The default
     * drains at once.
     */
    default WriteMark mark() throws IOException {
        drain();
        return WriteMark.DONE;
    }

    /** Completes when the stream bytes sent before it was taken are written (or the connection failed). */
    interface WriteMark {
        WriteMark DONE = () -> { };

        /** Blocks until written; throws if the write failed (or the waiting thread was woken, e.g. by a cancel). */
        void await() throws IOException;

        /**
         * Blocks until the transport is done with the write, written or failed, whatever wakes the caller: only
         * then may memory that the written views point into be released (a transport still encrypting from an
         * unmapped guest page crashes the process). Bounded: a peer that stops taking bytes has the connection
         * closed by the write timeout, which fails the write. The default is for writes that are done when
         * {@link #await} returns or throws.
         */
        default void settle() {
        }
    }

    /**
     * Source: the codecs this connection can compress the stream with, for the Offer, most preferred first
     * (empty: plain frames only). {@code bandwidthCap} is the migration's cap (0 = none): a setting of
     * {@code auto} compresses only behind a cap, where the link and not the CPU is the limit.
     */
    default List<StreamCodec> compressionOffer(long bandwidthCap) {
        return List.of();
    }

    /**
     * Destination, before it sends Accept: picks one of the offered codecs that this side accepts (or
     * {@link StreamCodec#NONE}) and from then on takes compressed frames of that codec. Returns the pick.
     */
    default StreamCodec acceptCompression(List<StreamCodec> offered) {
        return StreamCodec.NONE;
    }

    /**
     * Source, after Accept: compresses the stream's frames with the destination's pick from now on.
     *
     * @throws IOException if this connection cannot (a codec it did not offer)
     */
    default void compressStream(StreamCodec codec) throws IOException {
        if (codec != StreamCodec.NONE) {
            throw new IOException("this connection cannot compress with " + codec.label());
        }
    }

    /**
     * Bytes the stream took on the wire so far, sent or received (the stream frames' payloads, after
     * compression where on): what a bandwidth cap counts. Negative where the connection does not count them
     * (then the stream's own bytes are what it sent).
     */
    default long streamWireBytes() {
        return -1;
    }

    /**
     * The next item from the peer, waiting at most {@code timeout}.
     *
     * @throws IOException            when the connection is closed or broken (the message says why)
     * @throws java.util.concurrent.TimeoutException when nothing arrived in time
     */
    Inbound receive(Duration timeout) throws IOException, java.util.concurrent.TimeoutException, InterruptedException;

    /**
     * Wakes the owning thread (cancel): its blocked call, or its next one, throws {@link Woken} until
     * {@link #resetWake()}, but the connection stays open, so that the owner can still tell the peer
     * (Abort) and wait for its answer. Callable from any thread. The default closes the connection.
     */
    default void wake() {
        close();
    }

    /** Called by the owning thread after a {@link #wake()}, before its last exchange with the peer. */
    default void resetWake() {
    }

    /** What a call of the owning thread throws after {@link #wake()}. */
    final class Woken extends IOException {
        public Woken(String peer) {
            super("woken by cancel (connection to " + peer + " still open)");
        }
    }

    /** Closes the connection (idempotent). */
    @Override
    void close();

    /** What {@link #receive} returns. */
    sealed interface Inbound {
    }

    /** A hand-over message. */
    record Message(HandoverMessage message) implements Inbound {
    }

    /**
     * Save-stream bytes, a view of the receive buffer (never copied). The receiver must call
     * {@link #release()} once it no longer reads {@link #data()}; until then the transport counts the
     * bytes as unapplied (and stops reading from the socket when too many are).
     */
    non-sealed interface StreamData extends Inbound {
        ByteBuffer data();

        void release();
    }
}
