package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.StreamCodec;
import dev.migrationd.daemon.transport.CompressionMode;
import dev.migrationd.daemon.transport.NettyPeerConnector;
import dev.migrationd.daemon.transport.PeerLinkSettings;
import dev.migrationd.daemon.transport.PeerServer;
import dev.migrationd.daemon.transport.PeerTransport;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.sim.SimDomainSpec;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import dev.migrationd.hypervisor.sim.WorkloadSpec;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Migrations over loopback Netty between two engines whose peer links have their own {@code compression}
 * setting: the codec the hand-over picks, the bytes on the wire, and the guest's memory arriving intact
 * (the sim's integrity hash at the pause and before the unpause).
 */
class CompressedMigrationTest {

    @TempDir
    Path dir;
    PeerTransport transportA;
    PeerTransport transportB;
    SimHypervisor hvA;
    SimHypervisor hvB;
    PeerServer serverA;
    PeerServer serverB;
    MigrationEngine a;
    MigrationEngine b;

    void start(CompressionMode source, CompressionMode destination) throws Exception {
        transportA = new PeerTransport(PeerLinkSettings.PLAINTEXT.withCompression(source));
        transportB = new PeerTransport(PeerLinkSettings.PLAINTEXT.withCompression(destination));
        hvA = SimHypervisor.open(dir.resolve("a"));
        hvB = SimHypervisor.open(dir.resolve("b"));
        serverA = PeerServer.start(transportA, new InetSocketAddress("127.0.0.1", 0), peer -> true, c -> a.acceptIncoming(c));
        serverB = PeerServer.start(transportB, new InetSocketAddress("127.0.0.1", 0), peer -> true, c -> b.acceptIncoming(c));
        Map<String, InetSocketAddress> peers = Map.of("hostA", serverA.address(), "hostB", serverB.address());
        Duration t = Duration.ofSeconds(20);
        a = new MigrationEngine(EngineConfig.of("hostA", hvA, dir.resolve("a"), new NettyPeerConnector(transportA, peers,
                dev.migrationd.daemon.TestPeers.allowAll(peers))).withTimeouts(t, t, Duration.ofMillis(100)));
        b = new MigrationEngine(EngineConfig.of("hostB", hvB, dir.resolve("b"), new NettyPeerConnector(transportB, peers,
                dev.migrationd.daemon.TestPeers.allowAll(peers))).withTimeouts(t, t, Duration.ofMillis(100)));
    }

    @AfterEach
    void tearDown() throws HypervisorException {
        for (AutoCloseable c : new AutoCloseable[] {a, b, serverA, serverB, transportA, transportB, hvA, hvB}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }
    }

    /**
     * @param fill     zero: every page touched by a sequential writer (a few bytes each: very compressible);
     *                 random: incompressible
     * @param cap      the migration's bandwidth cap in bytes/s (0 = none)
     * @param picked   what the hand-over must pick
     * @param maxWire  the wire bytes at most, as a fraction of the stream bytes
     * @param minWire  at least
     */
    @ParameterizedTest(name = "source {0}, destination {1}, {2} memory, cap {3}: {4}")
    @CsvSource({
            "LZ4, AUTO, ZERO, 0, LZ4, 0.2, 0.0",
            "ZSTD, AUTO, ZERO, 0, ZSTD, 0.2, 0.0",
            "AUTO, AUTO, ZERO, 125000000, LZ4, 0.2, 0.0",
            "AUTO, AUTO, ZERO, 0, NONE, 1.0, 1.0",       // no cap: auto leaves the frames plain
            "LZ4, OFF, ZERO, 0, NONE, 1.0, 1.0",         // a destination without compression (as an old peer)
            "OFF, LZ4, ZERO, 0, NONE, 1.0, 1.0",         // a source without compression (as an old peer)
            "LZ4, LZ4, RANDOM, 0, LZ4, 1.0, 0.99"})      // random memory: the compressor steps aside
    void theStreamTravelsAsNegotiatedAndArrivesIntact(CompressionMode source, CompressionMode destination,
                                                      SimDomainSpec.Fill fill, long cap, StreamCodec picked,
                                                      double maxWire, double minWire) throws Exception {
        start(source, destination);
        long memory = 32L << 20;
        // a sequential writer over all of memory: each page gets a few bytes, none stays zero
        WorkloadSpec w = fill == SimDomainSpec.Fill.ZERO ? WorkloadSpec.of(256L << 20, 1.0, 0.0, WorkloadSpec.Pattern.SEQUENTIAL)
                : WorkloadSpec.IDLE;
        hvA.create(SimDomainSpec.of("c1", memory, 1, GuestType.HVM, Width.W64, w).withFill(fill));
        Thread.sleep(fill == SimDomainSpec.Fill.ZERO ? 300 : 0);
        MigrationOptions options = MigrationOptions.DEFAULTS.withBandwidthCap(cap).withMaxDowntime(Duration.ofSeconds(2));
        MigrationResult r = MemoryCheckedMigration.migrate(a, hvA, b, hvB, "c1", options);
        assertEquals(picked, r.compression(), "the codec the hand-over picked");
        double ratio = (double) r.wireBytes() / r.bytes();
        assertTrue(ratio <= maxWire && ratio >= minWire, "wire/stream " + ratio + " (" + r.wireBytes() + " of " + r.bytes()
                + " bytes), expected " + minWire + ".." + maxWire);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        java.util.Optional<MigrationResult> there = java.util.Optional.empty();
        while (there.isEmpty() && System.nanoTime() < deadline) { // the destination finishes after the source hears Running
            there = b.list().stream().filter(s -> s.info().direction() == dev.migrationd.daemon.engine.run.Direction.INCOMING)
                    .flatMap(s -> s.result().stream()).findFirst();
            Thread.sleep(20);
        }
        assertTrue(there.isPresent(), "the destination's result");
        assertEquals(picked, there.get().compression(), "the destination reports the same codec");
        assertEquals(r.wireBytes(), there.get().wireBytes(), "both ends count the same bytes on the wire");
    }
}
