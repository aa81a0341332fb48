package dev.migrationd.daemon;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Two real daemons (hostA, hostB) in this JVM on loopback, sim backend, each with its own state
 * directory, peered with each other over mutual TLS with certificates made on the fly ({@link TestCerts}),
 * each allowed to migrate to and query the other: gRPC, peer transport and metrics over real sockets.
 */
public final class TwoDaemons implements AutoCloseable {

    public final Daemon a;
    public final Daemon b;

    public TwoDaemons(Path dir) throws Exception {
        this(dir, Map.of());
    }

    /** @param bSettings more settings of hostB (config keys, e.g. limits) */
    public TwoDaemons(Path dir, Map<String, String> bSettings) throws Exception {
        int aPeer = freePort();
        int bPeer = freePort();
        a = Daemon.start(config("hostA", dir.resolve("a"), aPeer, "hostB", bPeer, Map.of()));
        try {
            b = Daemon.start(config("hostB", dir.resolve("b"), bPeer, "hostA", aPeer, bSettings));
        } catch (Exception e) {
            a.close();
            throw e;
        }
    }

    private static DaemonConfig config(String name, Path state, int peerPort, String peer, int otherPeerPort,
                                       Map<String, String> more) throws Exception {
        Map<String, String> flags = new java.util.HashMap<>(Map.of(DaemonConfig.KEY_NAME, name,
                DaemonConfig.KEY_STATE_DIR, state.toString(), DaemonConfig.KEY_CONTROL_LISTEN, "127.0.0.1:0",
                DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:" + peerPort, DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0"));
        flags.putAll(TestCerts.keys(TestCerts.host(state.resolveSibling("tls"), name)));
        flags.putAll(more);
        return DaemonConfig.resolve(null, flags, List.of(peer + "=127.0.0.1:" + otherPeerPort), List.of(peer + "=migrate,query"));
    }

    /** A port that was free a moment ago (the peer addresses must be known before both daemons start). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    public String aAddr() {
        return "127.0.0.1:" + a.controlPort();
    }

    public String bAddr() {
        return "127.0.0.1:" + b.controlPort();
    }

    @Override
    public void close() {
        b.close();
        a.close();
    }
}
