package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.peer.PeerConnector;
import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.peer.PeerPermission;
import dev.migrationd.daemon.TestPeers;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.daemon.engine.simhost.SimHost;
import dev.migrationd.daemon.transport.NettyPeerConnector;
import dev.migrationd.daemon.transport.PeerServer;
import dev.migrationd.daemon.transport.PeerTransport;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Two daemons' engines in one JVM over loopback Netty: "A" (source) and "B" (destination), each with
 * its own state directory and sim host in it. Outgoing connections of A can be wrapped (fault
 * injection). Test-only.
 */
final class EnginePair implements AutoCloseable {

    static final Duration TIMEOUT = Duration.ofSeconds(10);

    final PeerTransport transport = new PeerTransport();
    final Side a;
    final Side b;
    /** Wraps every outgoing connection of A (default: none). */
    volatile Function<PeerConnection, PeerConnection> wrapA = c -> c;

    final class Side implements AutoCloseable {
        final String name;
        final SimHost hv;
        final Path stateDir;
        final PeerServer server;
        NettyPeerConnector connector;
        MigrationEngine engine;

        /** Whether this side opened its host (two daemons of one host share one; the first closes it). */
        final boolean ownsHost;

        Side(String name, Path stateDir, Set<Capability> caps) throws IOException, HypervisorException {
            this(name, stateDir, SimHost.open(stateDir, caps), true);
        }

        Side(String name, Path stateDir, SimHost host, boolean ownsHost) throws IOException {
            this.name = name;
            this.hv = host;
            this.ownsHost = ownsHost;
            this.stateDir = stateDir;
            this.server = PeerServer.start(transport, new InetSocketAddress("127.0.0.1", 0), peer -> true, c -> engine.acceptIncoming(c));
        }

        void startEngine(Map<String, InetSocketAddress> peers, boolean wrap) throws IOException {
            connector = new NettyPeerConnector(transport, peers, TestPeers.allowAll(peers));
            PeerConnector port = !wrap ? connector : new PeerConnector() {
                @Override
                public boolean knows(String peer) {
                    return connector.knows(peer);
                }

                @Override
                public boolean allows(String peer, PeerPermission what) {
                    return connector.allows(peer, what);
                }

                @Override
                public PeerConnection connect(String peer) throws IOException, EngineException.UnknownPeerException {
                    return wrapA.apply(connector.connect(peer));
                }
            };
            engine = new MigrationEngine(EngineConfig.of(name, hv, stateDir, port)
                    .withTimeouts(TIMEOUT, TIMEOUT, Duration.ofMillis(100)));
        }

        /** Restarts the engine on the same state directory (a daemon restart). */
        void restartEngine() throws IOException {
            engine.close();
            engine = new MigrationEngine(EngineConfig.of(name, hv, stateDir,
                    engine.config().peers()).withTimeouts(TIMEOUT, TIMEOUT, Duration.ofMillis(100)));
        }

        /**
         * Restarts the engine with {@code observer} given to its constructor, as the daemon gives its metrics:
         * it hears every callback, those of the recovery itself included.
         */
        void restartEngine(MigrationObserver observer) throws IOException {
            engine.close();
            engine = new MigrationEngine(EngineConfig.of(name, hv, stateDir, engine.config().peers())
                    .withTimeouts(TIMEOUT, TIMEOUT, Duration.ofMillis(100)), List.of(observer));
        }

        @Override
        public void close() {
            if (engine != null) {
                engine.close();
            }
            server.close();
            if (!ownsHost) {
                return;
            }
            try {
                hv.close();
            } catch (HypervisorException e) {
                throw new IllegalStateException("closing " + name + "'s sim host failed", e);
            }
        }
    }

    EnginePair(Path dir) throws IOException, HypervisorException {
        this(dir, Set.of(Capability.values()), Set.of(Capability.values()));
    }

    EnginePair(Path dir, Set<Capability> capsA, Set<Capability> capsB) throws IOException, HypervisorException {
        a = new Side("hostA", dir.resolve("a"), capsA);
        b = new Side("hostB", dir.resolve("b"), capsB);
        Map<String, InetSocketAddress> peers = Map.of("hostA", a.server.address(), "hostB", b.server.address());
        a.startEngine(peers, true);
        b.startEngine(peers, false);
    }

    /** Two daemons on one host: B's engine runs on A's hypervisor (as two daemons in one Xen dom0 would). */
    static EnginePair oneHost(Path dir) throws IOException, HypervisorException {
        return new EnginePair(dir, true);
    }

    private EnginePair(Path dir, boolean oneHost) throws IOException, HypervisorException {
        a = new Side("hostA", dir.resolve("a"), Set.of(Capability.values()));
        b = new Side("hostB", dir.resolve("b"), a.hv, false);
        Map<String, InetSocketAddress> peers = Map.of("hostA", a.server.address(), "hostB", b.server.address());
        a.startEngine(peers, true);
        b.startEngine(peers, false);
    }

    /** A running guest with two vCPUs on A. */
    SimGuest guest(String name, GuestType type, long pages) throws HypervisorException {
        return a.hv.createRunning(name, type, pages, 2);
    }

    /** Waits until B has no live migration (its cleanup after a failure is asynchronous to A's result). */
    void awaitDestinationIdle() throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (b.engine.list().stream().anyMatch(s -> s.outcome().isEmpty())) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("destination still busy: " + b.engine.list());
            }
            Thread.sleep(10);
        }
    }

    @Override
    public void close() {
        a.close();
        b.close();
        transport.close();
    }

    /** Records every callback. */
    static final class Recorder implements MigrationObserver {
        final CopyOnWriteArrayList<String> phases = new CopyOnWriteArrayList<>();
        final CopyOnWriteArrayList<RoundStats> rounds = new CopyOnWriteArrayList<>();
        final CopyOnWriteArrayList<MigrationResult> results = new CopyOnWriteArrayList<>();
        /** "ID ATTENTION raised|cleared". */
        final CopyOnWriteArrayList<String> attentions = new CopyOnWriteArrayList<>();
        /** "ID in-doubt|settled". */
        final CopyOnWriteArrayList<String> inDoubt = new CopyOnWriteArrayList<>();

        @Override
        public void inDoubt(MigrationInfo m, boolean open) {
            inDoubt.add(m.id() + (open ? " in-doubt" : " settled"));
        }

        @Override
        public void attention(MigrationInfo m, Attention why, boolean raised) {
            attentions.add(m.id() + " " + why + (raised ? " raised" : " cleared"));
        }

        @Override
        public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
            phases.add(to instanceof MigrationPhase.PreCopy p ? "pre-copy/" + p.round() : to.name());
        }

        @Override
        public void roundCompleted(MigrationInfo m, RoundStats stats) {
            rounds.add(stats);
        }

        @Override
        public void finished(MigrationInfo m, MigrationResult result) {
            results.add(result);
        }
    }

    /** A connection wrapper with hooks. */
    static class Wrapped implements PeerConnection {
        final PeerConnection d;

        Wrapped(PeerConnection d) {
            this.d = d;
        }

        @Override
        public String peerName() {
            return d.peerName();
        }

        @Override
        public void send(HandoverMessage message) throws IOException {
            d.send(message);
        }

        @Override
        public void sendStream(ByteBuffer data) throws IOException {
            d.sendStream(data);
        }

        @Override
        public void drain() throws IOException {
            d.drain();
        }

        @Override
        public Inbound receive(Duration timeout) throws IOException, TimeoutException, InterruptedException {
            return d.receive(timeout);
        }

        @Override
        public void wake() {
            d.wake();
        }

        @Override
        public void resetWake() {
            d.resetWake();
        }

        @Override
        public void close() {
            d.close();
        }
    }
}
