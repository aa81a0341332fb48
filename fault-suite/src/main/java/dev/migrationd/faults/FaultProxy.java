package dev.migrationd.faults;

import dev.migrationd.daemon.transport.PeerFrame;
import dev.migrationd.daemon.transport.proto.Envelope;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A TCP proxy on the path from the source to the destination (the source's {@code --peer hostB=} points at
 * it) that reads the peer frames in both directions (type octet, u32 length, payload; envelopes parsed as
 * the daemon's {@link Envelope}) and so knows which hand-over step a connection is at, black-box, without
 * any help from the daemons. At the frame a {@link Trigger} picks it runs the trigger's action once (kill,
 * stop, fill a disk, cancel ...), then does with the frame what the action says: forward it, drop it and
 * reset both connections, hold it, or corrupt one byte of it.
 *
 * <p>What nftables cannot do on its own is done here: act at a given hand-over message, cut after exactly
 * N stream bytes, corrupt one byte, delay or stall one message.
 *
 * <p>Threading: one acceptor thread, two pump threads per connection (one per direction). The trigger is
 * taken by compare-and-set, so exactly one pump fires it; its action runs on that pump thread, before the
 * frame moves on.
 */
final class FaultProxy implements AutoCloseable {

    enum Dir { TO_DESTINATION, TO_SOURCE }

    /** What happens to the frame at which the trigger fired. */
    sealed interface Verdict {
        record Forward() implements Verdict {}
        /** Drop the frame and reset both connections (RST, as a broken path would). */
        record Reset() implements Verdict {}
        /** Hold the frame (and everything behind it in this direction) for a while, then forward it. */
        record Hold(long millis) implements Verdict {}
        /** Flip every bit of the frame's octet at {@code offset} (0 = the type octet), then forward it. */
        record Corrupt(int offset) implements Verdict {}
    }

    static final Verdict FORWARD = new Verdict.Forward();
    static final Verdict RESET = new Verdict.Reset();

    /**
     * One frame as seen on a connection.
     *
     * @param connection  1 for the first connection through the proxy (the migration), 2 ... for later ones
     * @param envelope    the envelope's body (OFFER, GO, ...), or null for stream data
     * @param streamBytes stream bytes this connection carried towards the destination before this frame
     * @param afterFlushed whether FLUSHED has passed towards the source on this connection
     */
    record Frame(int connection, Dir dir, byte type, int length, String envelope, long streamBytes, boolean afterFlushed) {
    }

    @FunctionalInterface
    interface Match {
        boolean test(Frame f);
    }

    @FunctionalInterface
    interface Action {
        Verdict run(Frame f) throws Exception;
    }

    record Trigger(String what, Match match, Action action) {
    }

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final Timeline timeline;
    private final AtomicReference<Trigger> trigger = new AtomicReference<>();
    private final CountDownLatch fired = new CountDownLatch(1);
    private volatile long firedAt;
    private volatile Frame firedFrame;
    private volatile String actionError;
    private final AtomicInteger connections = new AtomicInteger();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    /** Extra delay for every frame, both directions (a slow link). */
    private volatile long delayMillis;
    private volatile boolean closed;

    FaultProxy(InetSocketAddress listen, InetSocketAddress target, Timeline timeline) throws IOException {
        this.target = target;
        this.timeline = timeline;
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(listen, 16);
        Thread.ofPlatform().daemon().name("proxy-accept").start(this::acceptLoop);
    }

    void arm(Trigger t) {
        trigger.set(t);
    }

    void delayEveryFrame(long millis) {
        delayMillis = millis;
    }

    /** Waits for the armed trigger; false if it did not fire in time. */
    boolean awaitFired(long millis) throws InterruptedException {
        return fired.await(millis, TimeUnit.MILLISECONDS);
    }

    boolean hasFired() {
        return fired.getCount() == 0;
    }

    long firedAt() {
        return firedAt;
    }

    Frame firedFrame() {
        return firedFrame;
    }

    /** The error the trigger's action threw, or null. */
    String actionError() {
        return actionError;
    }

    // ---- matches for the hand-over steps ----------------------------------------------------------

    static Match envelope(Dir dir, String body) {
        return f -> f.dir() == dir && body.equals(f.envelope());
    }

    /** The first stream-data frame towards the destination once {@code bytes} stream bytes have passed. */
    static Match streamBytes(long bytes) {
        return f -> f.dir() == Dir.TO_DESTINATION && f.envelope() == null && f.streamBytes() >= bytes;
    }

    /** The first stream-data frame after Flushed: the final round, sent with the guest paused. */
    static Match finalRound() {
        return f -> f.dir() == Dir.TO_DESTINATION && f.envelope() == null && f.afterFlushed();
    }

    // ---- pumping ------------------------------------------------------------------------------------

    private final class Conn {
        final int number;
        final Socket source;
        final Socket destination;
        volatile boolean flushed;
        volatile long streamBytes;

        Conn(int number, Socket source, Socket destination) {
            this.number = number;
            this.source = source;
            this.destination = destination;
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket in = server.accept();
                Socket out = new Socket();
                try {
                    out.connect(target, 10_000);
                } catch (IOException e) {
                    reset(in);
                    continue; // the destination is down: the source sees the connection refused-like reset
                }
                in.setTcpNoDelay(true);
                out.setTcpNoDelay(true);
                open.add(in);
                open.add(out);
                Conn c = new Conn(connections.incrementAndGet(), in, out);
                Thread.ofPlatform().daemon().name("proxy-to-destination-" + c.number).start(() -> pump(c, Dir.TO_DESTINATION));
                Thread.ofPlatform().daemon().name("proxy-to-source-" + c.number).start(() -> pump(c, Dir.TO_SOURCE));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("fault-suite: proxy accept failed: " + e.getMessage());
                }
            }
        }
    }

    private void pump(Conn c, Dir dir) {
        Socket from = dir == Dir.TO_DESTINATION ? c.source : c.destination;
        Socket to = dir == Dir.TO_DESTINATION ? c.destination : c.source;
        try {
            DataInputStream in = new DataInputStream(from.getInputStream());
            OutputStream out = to.getOutputStream();
            byte[] header = new byte[PeerFrame.HEADER_BYTES];
            byte[] payload = new byte[PeerFrame.MAX_STREAM_DATA_BYTES];
            while (true) {
                in.readFully(header);
                int length = ((header[1] & 0xFF) << 24) | ((header[2] & 0xFF) << 16) | ((header[3] & 0xFF) << 8) | (header[4] & 0xFF);
                if (length < 1 || length > PeerFrame.MAX_STREAM_DATA_BYTES) {
                    throw new IOException("frame length " + length + " out of range");
                }
                in.readFully(payload, 0, length);
                String body = null;
                if (header[0] == PeerFrame.TYPE_ENVELOPE) {
                    body = Envelope.parseFrom(java.nio.ByteBuffer.wrap(payload, 0, length)).getBodyCase().name();
                }
                Frame frame = new Frame(c.number, dir, header[0], length, body, c.streamBytes, c.flushed);
                Verdict v = decide(frame);
                long delay = delayMillis;
                if (delay > 0) {
                    Thread.sleep(delay);
                }
                switch (v) {
                    case Verdict.Reset r -> {
                        reset(c.source);
                        reset(c.destination);
                        return;
                    }
                    case Verdict.Hold h -> Thread.sleep(h.millis());
                    case Verdict.Corrupt k -> {
                        if (k.offset() < header.length) {
                            header[k.offset()] = (byte) ~header[k.offset()];
                        } else {
                            payload[k.offset() - header.length] = (byte) ~payload[k.offset() - header.length];
                        }
                    }
                    case Verdict.Forward f -> {
                    }
                }
                out.write(header);
                out.write(payload, 0, length);
                out.flush();
                if (dir == Dir.TO_DESTINATION && body == null) {
                    c.streamBytes += length;
                }
                if (dir == Dir.TO_SOURCE && "FLUSHED".equals(body)) {
                    c.flushed = true;
                }
            }
        } catch (EOFException e) {
            // the sender closed: pass the close on
        } catch (IOException e) {
            // the other pump or a reset closed the sockets, or the peer process died
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        close(c.source);
        close(c.destination);
    }

    private Verdict decide(Frame frame) {
        Trigger t = trigger.get();
        if (t == null || !t.match().test(frame) || !trigger.compareAndSet(t, null)) {
            return FORWARD;
        }
        firedAt = System.nanoTime();
        firedFrame = frame;
        timeline.mark("fault: " + t.what() + " at " + (frame.envelope() != null ? frame.envelope()
                : "stream data after " + frame.streamBytes() + " B") + " (" + frame.dir() + ", connection " + frame.connection() + ")");
        Verdict v;
        try {
            v = t.action().run(frame);
        } catch (Exception | AssertionError e) {
            actionError = e.toString();
            timeline.mark("fault action failed: " + e);
            v = FORWARD;
        }
        fired.countDown();
        return v;
    }

    private void reset(Socket s) {
        try {
            s.setSoLinger(true, 0); // close with RST, not FIN
        } catch (IOException ignored) {
            // already closed
        }
        close(s);
    }

    private void close(Socket s) {
        open.remove(s);
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        open.forEach(this::close);
    }

    static InetSocketAddress address(String ip, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByName(ip), port);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }
}
