package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.peer.PeerCredentials;
import dev.migrationd.daemon.engine.run.StreamCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.CorruptedFrameException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine's {@link PeerConnection} over one Netty channel, and the last handler of its pipeline
 * (the protocol: it parses envelope frames into {@link HandoverMessage}s).
 *
 * <h2>Who owns what</h2>
 * <ul>
 *   <li>The channel's <b>event loop</b> runs the pipeline: {@link #channelRead} puts parsed messages and
 *       retained stream-data payloads on {@link #inbound} and {@link #channelReadComplete} wakes the
 *       migration thread once per batch of socket reads (not once per item: measured, a wake-up per 64 KiB
 *       read cost the receiving side a sixth of its CPU in futex calls); {@link #channelWritabilityChanged}
 *       signals {@link #writable}. It never blocks. It decompresses compressed stream-data frames, with the
 *       codec the destination's migration thread set ({@link #inboundCodec}) before it sent Accept.</li>
 *   <li>The migration's <b>virtual thread</b> calls {@link #send}, {@link #sendStream}, {@link #drain} and
 *       {@link #receive}. Writes from it are handed to the event loop by Netty (a task per write, in
 *       order). It blocks in {@link #sendStream} while the channel is not writable: at most the high
 *       water mark ({@link #WRITE_HIGH_WATER}) plus one frame is in flight. Once the hand-over negotiated a
 *       codec it also compresses each outgoing stream frame ({@link #compressor}).</li>
 *   <li>Receive side backpressure: stream bytes handed to the engine but not yet {@link StreamData#release
 *       released} are counted in {@link #unapplied}; above {@link #RECEIVE_HIGH_WATER} autoRead is turned
 *       off (on the event loop), and the releasing thread turns it back on below {@link #RECEIVE_LOW_WATER}.</li>
 *   <li>Hand-over messages waiting for the migration thread are counted in {@link #queuedMessages}; above
 *       {@link #MAX_QUEUED_MESSAGES} reading stops too, so a peer that floods messages (Flush after Flush,
 *       never reading the answers) cannot grow the heap: its answers back up until
 *       {@link #writeTimeout} ends the connection.</li>
 *   <li>Every wait to write (backpressure, drain) is bounded by {@link #writeTimeout} without progress:
 *       a peer that stops reading makes the write fail instead of blocking its thread for ever.</li>
 *   <li>Why the connection ended, {@link #closeReason}, is decided on the event loop (the first reason
 *       wins) and is final once {@link #channelInactive} has run ({@link #inactiveSeen}). The channel
 *       reports itself inactive earlier than that: a handler that closes it on a failure (the TLS handler,
 *       on an alert from the peer) closes first and passes the failure on to {@link #exceptionCaught}
 *       after. So the migration thread, when it finds the channel inactive, waits for
 *       {@link #inactiveSeen} (bounded by {@link #CLOSE_REASON_WAIT_MS}) before it reads the reason.</li>
 *   <li>{@link #close} may come from any thread; it closes the channel, which wakes a blocked caller
 *       with an IOException. {@link #wake} (cancel) may too: it sets {@link #woken}, signals
 *       {@link #writable} and puts {@link #WAKE} on {@link #inbound}; every wait of the migration thread
 *       checks the flag at least every {@link #WAIT_SLICE_MS} ms.</li>
 * </ul>
 */
public final class NettyPeerConnection extends ChannelInboundHandlerAdapter implements PeerConnection {

    private static final Logger LOG = LoggerFactory.getLogger(NettyPeerConnection.class);

    /** Outbound bytes above which the channel reports not writable (the sender blocks). */
    public static final int WRITE_HIGH_WATER = 4 << 20;
    /** Outbound bytes below which the channel is writable again. */
    public static final int WRITE_LOW_WATER = 1 << 20;
    /** Received-but-unapplied stream bytes above which the socket is no longer read. */
    public static final long RECEIVE_HIGH_WATER = 8L << 20;
    /** Unapplied bytes below which reading resumes. */
    public static final long RECEIVE_LOW_WATER = 2L << 20;
    /** Hand-over messages queued for the migration thread above which the socket is no longer read. */
    public static final int MAX_QUEUED_MESSAGES = 64;
    /** Queued messages below which reading resumes. */
    public static final int RESUME_QUEUED_MESSAGES = 16;

    private final Channel channel;
    private final String peerName;
    /** Whether this side connected (the source); only for describing TLS failures. */
    private final boolean outgoing;
    private final java.time.Duration writeTimeout;
    /** What the transport proved about the other end; set once, before the engine gets the connection. */
    private volatile PeerCredentials credentials = PeerCredentials.UNAUTHENTICATED;
    /** Set by {@link #holdFirstMessageUntil}, cleared at the first message; event-loop confined. */
    private BooleanSupplier firstMessageGate;
    /** False until handed to its user: failures before that (a refused handshake) are logged by the transport. */
    private volatile boolean established;
    private final java.util.concurrent.atomic.AtomicInteger queuedMessages = new java.util.concurrent.atomic.AtomicInteger();
    /**
     * Items for the migration thread, in order. Producers (the event loop; {@link #wake} and {@link #close}
     * from any thread) add and then {@link #signalReceiver()}; the consumer ({@link #receive}) publishes
     * itself in {@link #receiver} before it checks the queue a last time and parks, so a signal is never lost.
     */
    private final ConcurrentLinkedQueue<Object> inbound = new ConcurrentLinkedQueue<>();
    /** The thread parked in {@link #receive}, or null. */
    private volatile Thread receiver;
    private final AtomicLong unapplied = new AtomicLong();
    private final Object readSwitch = new Object();
    /** Whether autoRead is on; guarded by {@link #readSwitch}. */
    private boolean reading = true;
    /** Why the connection ended; first writer wins (see the class comment for when it is final). */
    private final AtomicReference<String> closeReason = new AtomicReference<>();
    /** Opened by {@link #channelInactive} (event loop), after every handler has reported why the channel closed. */
    private final CountDownLatch inactiveSeen = new CountDownLatch(1);
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition writable = lock.newCondition();

    /**
     * Buffers in one outgoing stream-data frame at most: the epoll transport hands a frame to writev as it
     * is only when it is direct and has at most IOV_MAX (1024 on Linux) buffers; otherwise it first copies
     * the whole frame into a new direct buffer. Measured (JFR, 2 GiB migration): before this limit and the
     * direct copy of heap pieces below, every frame of page views was copied that way
     * (AbstractEpollChannel.newDirectBuffer), i.e. one extra copy of every byte on the source.
     */
    static final int MAX_FRAME_COMPONENTS = 1024;

    /** The {@code compression} setting: what this side offers (source) and accepts (destination). */
    private final CompressionMode compressionMode;
    /**
     * The codec compressed frames from the peer must use; NONE (no compressed frame acceptable) until the
     * destination's migration thread picks one, before it sends Accept. Read on the event loop.
     */
    private volatile StreamCodec inboundCodec = StreamCodec.NONE;
    /** Payload bytes of the stream frames received; written only by the event loop. */
    private volatile long streamWireBytesIn;

    // owned by the sending virtual thread
    /** Compresses outgoing stream frames once the hand-over negotiated a codec; null: plain frames. */
    private StreamCompressor compressor;
    /** Payload bytes of the stream frames handed to the channel (after compression). */
    private long streamWireBytes;
    private ChannelFuture lastWrite;
    /** Stream bytes gathered for the next frame (wrapped views, no copies); written by {@link #drain}. */
    private CompositeByteBuf pending;

    private static final Object CLOSED = new Object();
    /** Put on {@link #inbound} by {@link #wake} so that a blocked {@link #receive} returns at once. */
    private static final Object WAKE = new Object();
    /** Longest single wait of the migration thread between checks of {@link #woken}. */
    static final long WAIT_SLICE_MS = 50;
    /**
     * Longest wait, once the channel is found closed, for the event loop to finish reporting why
     * ({@link #channelInactive}); it is already queued by then, so this bound is reached only if the
     * event loop is stuck or gone.
     */
    static final long CLOSE_REASON_WAIT_MS = 2_000;
    /** Set by {@link #wake} (any thread), cleared by {@link #resetWake} (the migration thread). */
    private volatile boolean woken;

    NettyPeerConnection(Channel channel, String peerName, boolean outgoing, java.time.Duration writeTimeout) {
        this(channel, peerName, outgoing, writeTimeout, CompressionMode.OFF);
    }

    NettyPeerConnection(Channel channel, String peerName, boolean outgoing, java.time.Duration writeTimeout,
                        CompressionMode compressionMode) {
        this.channel = channel;
        this.peerName = peerName;
        this.outgoing = outgoing;
        this.writeTimeout = writeTimeout;
        this.compressionMode = compressionMode;
    }

    // ---- compression (docs/handover.md §2.2, §8) ----------------------------------------------------

    @Override
    public List<StreamCodec> compressionOffer(long bandwidthCap) {
        return compressionMode.offer(bandwidthCap);
    }

    /** Migration thread, before Accept is sent; the event loop reads {@link #inboundCodec} for frames after it. */
    @Override
    public StreamCodec acceptCompression(List<StreamCodec> offered) {
        StreamCodec pick = compressionMode.choose(offered);
        inboundCodec = pick;
        return pick;
    }

    @Override
    public void compressStream(StreamCodec codec) throws IOException {
        if (codec == StreamCodec.NONE) {
            compressor = null;
            return;
        }
        if (!FrameCodecs.available(codec)) {
            throw new IOException("cannot compress with " + codec.label() + " here");
        }
        compressor = new StreamCompressor(codec);
    }

    /** Sent (migration thread) or received (written by the event loop only) stream-frame payload bytes. */
    @Override
    public long streamWireBytes() {
        return streamWireBytes + streamWireBytesIn;
    }

    @Override
    public String peerName() {
        return peerName;
    }

    @Override
    public PeerCredentials credentials() {
        return credentials;
    }

    /**
     * An unauthenticated plaintext connection: its first message is queued for the engine only if
     * {@code gate} (run on the event loop when the message has been parsed) says so; otherwise the connection
     * is closed and the message dropped. Stream data before the first message closes it too, so that an
     * unauthenticated connection holds at most one partial envelope. Called before the channel reads.
     */
    void holdFirstMessageUntil(BooleanSupplier gate) {
        this.firstMessageGate = gate;
    }

    /** The transport hands the connection over: what it proved about the other end. */
    void established(PeerCredentials proved) {
        this.credentials = proved;
        this.established = true;
    }

    /** The remote socket address, for logs. */
    public String remoteAddress() {
        return String.valueOf(channel.remoteAddress());
    }

    // ---- event loop side ---------------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        switch (msg) {
            case PeerFrame.Envelope env -> {
                try {
                    HandoverMessage m = PeerMessages.parse(env.payload().nioBuffer());
                    BooleanSupplier gate = firstMessageGate;
                    if (gate != null) {
                        firstMessageGate = null;
                        if (!gate.getAsBoolean()) {
                            closeReason.compareAndSet(null, "refused by the transport: no place for another peer connection"
                                    + " (max-peer-connections)");
                            ctx.close();
                            return;
                        }
                    }
                    queuedMessages.incrementAndGet();
                    inbound.add(new Message(m));
                    adjustReading();
                } catch (PeerProtocolException e) {
                    fail(ctx, "protocol violation: " + e.getMessage());
                } finally {
                    env.release();
                }
            }
            case PeerFrame.StreamData data -> {
                if (firstMessageGate != null) {
                    data.release();
                    fail(ctx, "protocol violation: stream data before the first message");
                    return;
                }
                ByteBuf buf = data.payload();
                streamWireBytesIn += buf.readableBytes(); // the event loop is the only writer
                unapplied.addAndGet(buf.readableBytes());
                inbound.add(new Chunk(buf));
                adjustReading();
            }
            case PeerFrame.CompressedStreamData data -> {
                ByteBuf buf;
                streamWireBytesIn += data.payload().readableBytes(); // the event loop is the only writer
                try {
                    buf = FrameCodecs.decompress(inboundCodec, data.payload(), ctx.alloc());
                } catch (PeerProtocolException e) {
                    fail(ctx, "protocol violation: " + e.getMessage());
                    return;
                } finally {
                    data.release();
                }
                unapplied.addAndGet(buf.readableBytes());
                inbound.add(new Chunk(buf));
                adjustReading();
            }
            default -> {
                io.netty.util.ReferenceCountUtil.release(msg);
                fail(ctx, "unexpected pipeline message " + msg.getClass().getSimpleName());
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        signalReceiver();
        ctx.fireChannelReadComplete();
    }

    /** Wakes the migration thread if it waits in {@link #receive} (any thread; after adding to {@link #inbound}). */
    private void signalReceiver() {
        Thread t = receiver;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        signalWritable();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closeReason.compareAndSet(null, "connection closed by peer");
        inactiveSeen.countDown();
        inbound.add(CLOSED);
        signalReceiver();
        signalWritable();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        String why = cause instanceof CorruptedFrameException ? "frame violation: " + cause.getMessage()
                : isTls(cause) ? tlsFailure(cause)
                : cause instanceof IOException ? "connection error: " + cause.getMessage()
                : "pipeline error: " + cause;
        fail(ctx, why);
    }

    private static boolean isTls(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof javax.net.ssl.SSLException) {
                return true;
            }
        }
        return false;
    }

    /**
     * A TLS failure in words. On the source, an alert after our handshake completed is the destination
     * refusing our certificate (TLS 1.3 clients learn it only then), so say so, with the alert's meaning.
     */
    private String tlsFailure(Throwable cause) {
        String what = dev.migrationd.daemon.tls.PeerTls.describeFailure(cause);
        if (outgoing && dev.migrationd.daemon.tls.PeerTls.isAlertFromPeer(cause)) {
            return "destination " + peerName + " rejected our certificate: " + what;
        }
        return "TLS failure with " + peerName + ": " + what;
    }

    private void fail(ChannelHandlerContext ctx, String why) {
        if (closeReason.compareAndSet(null, why) && established) {
            LOG.warn("event=peer_connection_failed peer={} remote={} reason=\"{}\"", peerName, remoteAddress(), why);
        }
        ctx.close();
    }

    /**
     * Turns socket reads off above {@link #RECEIVE_HIGH_WATER} unapplied bytes and back on below
     * {@link #RECEIVE_LOW_WATER}. Called after every change of {@link #unapplied}, from the event loop
     * (more bytes) and from the migration thread (bytes applied); the lock makes the decision and the
     * switch one step, so the last caller always leaves the switch matching the current count (a read
     * turned off after the consumer already caught up would otherwise never be turned on again).
     */
    private void adjustReading() {
        synchronized (readSwitch) {
            long u = unapplied.get();
            int q = queuedMessages.get();
            if (reading && (u > RECEIVE_HIGH_WATER || q > MAX_QUEUED_MESSAGES)) {
                reading = false;
                channel.config().setAutoRead(false);
            } else if (!reading && u < RECEIVE_LOW_WATER && q < RESUME_QUEUED_MESSAGES) {
                reading = true;
                channel.config().setAutoRead(true);
            }
        }
    }

    private void signalWritable() {
        lock.lock();
        try {
            writable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ---- migration thread side ---------------------------------------------------------------------

    @Override
    public void send(HandoverMessage message) throws IOException {
        checkOpen();
        checkWoken();
        writePending(); // stream bytes before this message go first
        awaitWritable(); // a peer that reads nothing cannot make us queue messages without bound
        byte[] bytes = PeerMessages.toEnvelope(message).toByteArray();
        lastWrite = channel.writeAndFlush(new PeerFrame.Envelope(Unpooled.wrappedBuffer(bytes)));
    }

    /**
     * Gathers stream bytes into the next frame (as wrapped views: no copy); a full frame is written at
     * once, the rest by {@link #drain} or the next {@link #send}. The engine drains after each page batch,
     * so a batch usually travels as one frame.
     */
    @Override
    public void sendStream(ByteBuffer data) throws IOException {
        checkOpen();
        checkWoken();
        ByteBuffer rest = data.duplicate();
        while (rest.hasRemaining()) {
            int used = pending == null ? 0 : pending.readableBytes();
            int room = PeerFrame.MAX_STREAM_DATA_BYTES - used;
            if (room == 0 || pending != null && pending.numComponents() >= MAX_FRAME_COMPONENTS) {
                writePending();
                continue;
            }
            int n = Math.min(rest.remaining(), room);
            ByteBuffer slice = rest.slice(rest.position(), n);
            rest.position(rest.position() + n);
            if (pending == null) {
                pending = Unpooled.compositeBuffer(MAX_FRAME_COMPONENTS);
            }
            // page views (direct) go as they are; a heap piece (record headers, PFN arrays: small) is
            // copied to a direct buffer so that the frame stays direct (see MAX_FRAME_COMPONENTS)
            ByteBuf piece = slice.isDirect() ? Unpooled.wrappedBuffer(slice)
                    : channel.alloc().directBuffer(n, n).writeBytes(slice);
            pending.addComponent(true, piece);
        }
    }

    /** Writes the gathered frame, first waiting while the channel is not writable (backpressure). */
    private void writePending() throws IOException {
        if (pending == null) {
            return;
        }
        CompositeByteBuf frame = pending;
        pending = null;
        try {
            awaitWritable();
        } catch (IOException e) {
            frame.release();
            throw e;
        }
        // compressed here, on the sending thread: what goes on the wire is known at once (the bandwidth cap
        // counts it), and the guest-memory views are read before the write completes
        PeerFrame out = compressor == null ? new PeerFrame.StreamData(frame) : compressor.encode(frame, channel.alloc());
        streamWireBytes += out.payload().readableBytes();
        lastWrite = channel.writeAndFlush(out);
    }

    @Override
    public WriteMark mark() throws IOException {
        writePending();
        ChannelFuture last = lastWrite;
        if (last == null) {
            return WriteMark.DONE;
        }
        return new WriteMark() {
            @Override
            public void await() throws IOException {
                awaitWrite(last);
            }

            @Override
            public void settle() {
                settleWrite(last);
            }
        };
    }

    /**
     * Waits until {@code f} is done, ignoring wakes; a write that makes no progress for the write timeout (or an
     * interrupt) closes the channel, which fails it.
     */
    private void settleWrite(ChannelFuture f) {
        Progress progress = new Progress();
        boolean interrupted = false;
        while (!f.isDone()) {
            try {
                if (f.await(WAIT_SLICE_MS)) {
                    break;
                }
                progress.check();
            } catch (InterruptedException e) {
                interrupted = true;
                channel.close();
            } catch (IOException e) {
                channel.close(); // stalled: closing fails the write, and the views are released
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitWrite(ChannelFuture f) throws IOException {
        Progress progress = new Progress();
        try {
            while (!f.await(WAIT_SLICE_MS)) {
                checkWoken();
                progress.check();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while draining the connection to " + peerName, e);
        }
        if (!f.isSuccess()) {
            // a write fails because the connection ended: why it ended says more than the write's error
            String why = channel.isActive() ? null : settledCloseReason();
            throw new IOException("write to " + peerName + " failed: " + (why != null ? why : reason(f.cause())));
        }
    }

    @Override
    public void drain() throws IOException {
        writePending();
        ChannelFuture last = lastWrite;
        if (last == null) {
            checkOpen();
            return;
        }
        awaitWrite(last);
    }

    /**
     * How long a write has waited without the peer taking any of our bytes. Progress is the channel's
     * pending outbound bytes going down; none for {@link #writeTimeout} fails the write. Owned by the
     * waiting thread.
     */
    private final class Progress {
        private long pending = pendingWriteBytes();
        private long since = System.nanoTime();

        void check() throws IOException {
            long now = System.nanoTime();
            long p = pendingWriteBytes();
            if (p < pending) {
                pending = p;
                since = now;
            } else if (now - since > writeTimeout.toNanos()) {
                String why = peerName + " stopped reading: none of " + p + " pending bytes were taken in "
                        + writeTimeout.toMillis() + " ms (peer-write-timeout)";
                closeReason.compareAndSet(null, why);
                channel.close();
                throw new IOException(why);
            }
        }
    }

    private long pendingWriteBytes() {
        var buf = channel.unsafe().outboundBuffer();
        return buf == null ? 0 : buf.totalPendingWriteBytes();
    }

    private void awaitWritable() throws IOException {
        Progress progress = null;
        lock.lock();
        try {
            while (!channel.isWritable()) {
                if (!channel.isActive()) {
                    break; // reported by checkOpen below, outside the lock: it may wait for the event loop
                }
                checkWoken();
                if (progress == null) {
                    progress = new Progress();
                }
                progress.check();
                writable.await(WAIT_SLICE_MS, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting to send to " + peerName, e);
        } finally {
            lock.unlock();
        }
        checkOpen();
    }

    @Override
    public Inbound receive(Duration timeout) throws IOException, TimeoutException, InterruptedException {
        checkWoken();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Object item = take(deadline);
            if (item == null) {
                throw new TimeoutException("nothing from " + peerName + " within " + timeout.toMillis() + " ms");
            }
            if (item == WAKE) {
                checkWoken(); // a wake since reset: throws; else a stale marker from before the reset
                continue;
            }
            if (item == CLOSED) {
                inbound.add(CLOSED); // later receives fail the same way
                throw new IOException(closeReasonOr("connection closed"));
            }
            if (item instanceof Message) {
                queuedMessages.decrementAndGet();
                adjustReading();
            }
            return (Inbound) item;
        }
    }

    /** The next item, parking until one is signalled or {@code deadline} passes (null then). */
    private Object take(long deadline) throws InterruptedException {
        Object item = inbound.poll();
        if (item != null) {
            return item;
        }
        Thread me = Thread.currentThread();
        receiver = me;
        try {
            while ((item = inbound.poll()) == null) { // checked after publishing receiver: no lost signal
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                LockSupport.parkNanos(this, left);
                if (Thread.interrupted()) {
                    throw new InterruptedException("interrupted while waiting for " + peerName);
                }
            }
            return item;
        } finally {
            receiver = null;
        }
    }

    @Override
    public void wake() {
        woken = true;
        inbound.add(WAKE);
        signalReceiver();
        signalWritable();
    }

    @Override
    public void resetWake() {
        woken = false;
        inbound.remove(WAKE);
    }

    private void checkWoken() throws Woken {
        if (woken) {
            throw new Woken(peerName);
        }
    }

    @Override
    public void close() {
        closeReason.compareAndSet(null, "closed locally");
        channel.close();
        // a frame still being gathered by the sending thread holds only wrapped views (unpooled): it is
        // dropped with the connection, and its next write fails on the closed channel
        // release what the engine will never read, once the event loop has stopped adding to the queue
        if (channel.eventLoop().inEventLoop() || channel.eventLoop().isShuttingDown()) {
            releaseQueued();
        } else {
            channel.closeFuture().addListener(f -> releaseQueued());
        }
    }

    private void releaseQueued() {
        Object o;
        while ((o = inbound.poll()) != null) {
            if (o instanceof Chunk c) {
                c.release();
            }
        }
        inbound.add(CLOSED);
        signalReceiver();
    }

    private void checkOpen() throws IOException {
        if (!channel.isActive()) {
            String why = settledCloseReason();
            throw new IOException(why != null ? why : "connection to " + peerName + " is closed");
        }
    }

    /**
     * Why the (closed) channel ended, once the event loop has finished saying so: waits for
     * {@link #channelInactive} at most {@link #CLOSE_REASON_WAIT_MS}. Never waits on the event loop
     * itself (it would wait for its own next task). Null if no reason was given in that time.
     */
    private String settledCloseReason() {
        if (!channel.eventLoop().inEventLoop()) {
            try {
                inactiveSeen.await(CLOSE_REASON_WAIT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return closeReason.get();
    }

    /** Why the connection ended as far as known now, or {@code fallback}. */
    String closeReasonOr(String fallback) {
        String r = closeReason.get();
        return r == null ? fallback : r;
    }

    private static String reason(Throwable t) {
        return t == null ? "unknown" : t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    /** Received stream bytes: a retained slice of the socket buffer, released by the engine. */
    private final class Chunk implements StreamData {
        private final ByteBuf buf;
        private final int size;
        private boolean released;

        Chunk(ByteBuf buf) {
            this.buf = buf;
            this.size = buf.readableBytes();
        }

        @Override
        public ByteBuffer data() {
            return buf.nioBuffer();
        }

        @Override
        public void release() {
            if (released) {
                return;
            }
            released = true;
            buf.release();
            unapplied.addAndGet(-size);
            adjustReading();
        }
    }
}
