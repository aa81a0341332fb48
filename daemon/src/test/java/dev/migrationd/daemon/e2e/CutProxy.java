package dev.migrationd.daemon.e2e;

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
import java.util.concurrent.atomic.AtomicReference;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import dev.migrationd.daemon.tls.TlsException;
import dev.migrationd.daemon.tls.TlsFiles;
import dev.migrationd.daemon.tls.TlsMaterial;

/**
 * A TCP proxy between a source daemon and its peer (the source's {@code --peer hostB=} points here) that
 * reads the peer frames ({@link PeerFrame}: type octet, u32 length, payload; envelopes parsed as
 * {@link Envelope}) in both directions and, once, cuts the connection at the frame a {@link Rule}
 * picks: before forwarding it or right after. An optional action (e.g. SIGKILL a daemon) runs at the cut,
 * before the frame is (or is not) forwarded. Later connections (the source reconnecting to resolve an
 * in-doubt migration) pass through untouched.
 *
 * <p>The daemons talk mutual TLS, so the proxy ends TLS on both sides to read the frames: towards the
 * source it presents the destination's certificate, towards the destination the source's (the test CA
 * signed both), and it asks the source for its certificate as a daemon does.
 *
 * <p>Threading: one acceptor thread, one set-up thread per connection (the two TLS handshakes), then two
 * pump threads per connection (one per direction); the rule is taken atomically, so exactly one pump
 * fires it.
 */
final class CutProxy implements AutoCloseable {

    enum Dir { TO_DESTINATION, TO_SOURCE }

    enum Cut { NONE, BEFORE, AFTER }

    /**
     * One frame as the proxy sees it.
     *
     * @param envelope    the envelope's body case (OFFER, GO, RUNNING, ...), or null for stream data
     * @param streamBytes stream-data payload bytes this connection carried in this direction before the frame
     */
    record Frame(Dir dir, byte type, int length, String envelope, long streamBytes) {
    }

    @FunctionalInterface
    interface Rule {
        Cut decide(Frame frame);
    }

    private final ServerSocket server;
    private final int targetPort;
    private final AtomicReference<Rule> rule = new AtomicReference<>();
    private volatile Runnable atCut = () -> { };
    private final CountDownLatch fired = new CountDownLatch(1);
    private volatile Frame firedAt;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private final SSLContext asDestination;
    private final SSLContext asSource;

    /**
     * @param source      the source's TLS files (presented to the destination)
     * @param destination the destination's TLS files (presented to the source)
     */
    CutProxy(int targetPort, TlsFiles source, TlsFiles destination) throws IOException {
        this.targetPort = targetPort;
        try {
            asDestination = context(TlsMaterial.load(destination));
            asSource = context(TlsMaterial.load(source));
        } catch (GeneralSecurityException | TlsException e) {
            throw new IOException("cut-proxy: TLS material: " + e.getMessage(), e);
        }
        SSLServerSocket s = (SSLServerSocket) asDestination.getServerSocketFactory()
                .createServerSocket(0, 16, InetAddress.getLoopbackAddress());
        s.setNeedClientAuth(true);
        s.setEnabledProtocols(new String[] {"TLSv1.3"});
        server = s;
        Thread.ofPlatform().daemon().name("cut-proxy-accept").start(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    /** Arms a one-shot cut; {@code action} runs at the cut, before the frame is forwarded (AFTER) or dropped (BEFORE). */
    void arm(Rule r, Runnable action) {
        atCut = action;
        rule.set(r);
    }

    /** Cut at an envelope. */
    static Rule at(Dir dir, String envelope, Cut cut) {
        return f -> f.dir() == dir && envelope.equals(f.envelope()) ? cut : Cut.NONE;
    }

    /** Cut before the first stream-data frame after {@code bytes} stream bytes towards the destination. */
    static Rule afterStreamBytes(long bytes) {
        return f -> f.dir() == Dir.TO_DESTINATION && f.envelope() == null && f.streamBytes() >= bytes ? Cut.BEFORE : Cut.NONE;
    }

    /** Waits for the armed cut; the frame it fired at. */
    Frame awaitCut(long seconds) throws InterruptedException {
        if (!fired.await(seconds, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new AssertionError("the proxy's cut did not fire in " + seconds + "s");
        }
        return firedAt;
    }

    private static SSLContext context(TlsMaterial m) throws GeneralSecurityException, IOException {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("host", m.key(), new char[0], m.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, new char[0]);
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        for (int i = 0; i < m.trusted().size(); i++) {
            trust.setCertificateEntry("ca" + i, m.trusted().get(i));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext c = SSLContext.getInstance("TLSv1.3");
        c.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return c;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket in = server.accept();
                Thread.ofPlatform().daemon().name("cut-proxy-setup").start(() -> connect((SSLSocket) in));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("cut-proxy: accept failed: " + e);
                }
            }
        }
    }

    private void connect(SSLSocket in) {
        SSLSocket out = null;
        try {
            in.setTcpNoDelay(true);
            open.add(in);
            in.startHandshake();
            out = (SSLSocket) asSource.getSocketFactory().createSocket();
            open.add(out);
            out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 10_000);
            out.setTcpNoDelay(true);
            out.setEnabledProtocols(new String[] {"TLSv1.3"});
            out.startHandshake();
            SSLSocket o = out;
            Thread.ofPlatform().daemon().name("cut-proxy-to-destination").start(() -> pump(in, o, Dir.TO_DESTINATION, in, o));
            Thread.ofPlatform().daemon().name("cut-proxy-to-source").start(() -> pump(o, in, Dir.TO_SOURCE, in, o));
        } catch (IOException e) {
            if (!closed) {
                System.err.println("cut-proxy: connect/handshake failed: " + e);
            }
            closeQuietly(in);
            if (out != null) {
                closeQuietly(out);
            }
        }
    }

    private void pump(Socket from, Socket to, Dir dir, Socket a, Socket b) {
        long streamBytes = 0;
        try {
            DataInputStream inp = new DataInputStream(from.getInputStream());
            OutputStream outp = to.getOutputStream();
            byte[] header = new byte[PeerFrame.HEADER_BYTES];
            byte[] payload = new byte[PeerFrame.MAX_STREAM_DATA_BYTES];
            while (true) {
                inp.readFully(header);
                byte type = header[0];
                int length = ((header[1] & 0xFF) << 24) | ((header[2] & 0xFF) << 16) | ((header[3] & 0xFF) << 8) | (header[4] & 0xFF);
                if (length < 1 || length > PeerFrame.MAX_STREAM_DATA_BYTES) {
                    throw new IOException("frame length " + length + " out of range");
                }
                inp.readFully(payload, 0, length);
                String envelope = null;
                if (type == PeerFrame.TYPE_ENVELOPE) {
                    envelope = Envelope.parseFrom(java.nio.ByteBuffer.wrap(payload, 0, length)).getBodyCase().name();
                }
                Frame frame = new Frame(dir, type, length, envelope, streamBytes);
                Rule r = rule.get();
                Cut cut = r == null ? Cut.NONE : r.decide(frame);
                if (cut != Cut.NONE && rule.compareAndSet(r, null)) {
                    firedAt = frame;
                    atCut.run();
                    if (cut == Cut.AFTER) {
                        outp.write(header);
                        outp.write(payload, 0, length);
                        outp.flush();
                    }
                    closeQuietly(a);
                    closeQuietly(b);
                    fired.countDown();
                    return;
                }
                outp.write(header);
                outp.write(payload, 0, length);
                if (type == PeerFrame.TYPE_STREAM_DATA) {
                    streamBytes += length;
                }
            }
        } catch (EOFException e) {
            // the sender closed: pass the close on
        } catch (IOException e) {
            // the other pump or a cut closed the sockets
        }
        closeQuietly(a);
        closeQuietly(b);
    }

    private void closeQuietly(Socket s) {
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
        open.forEach(this::closeQuietly);
    }
}
