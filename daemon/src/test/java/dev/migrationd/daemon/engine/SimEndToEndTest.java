package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.transport.NettyPeerConnector;
import dev.migrationd.daemon.transport.PeerServer;
import dev.migrationd.daemon.transport.PeerTransport;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.sim.IntegrityOracle;
import dev.migrationd.hypervisor.sim.SimDomain;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * End to end on the simulated hypervisor: two engines (two sim backends, two state directories) over
 * loopback Netty, guests running the {@code ab} workload (QEMU's a-b test: the checker allows exactly
 * one break in the sequence) or a random one, memory compared with the sim's integrity hash.
 */
class SimEndToEndTest {

    @TempDir
    Path dir;
    PeerTransport transport;
    SimHypervisor hvA;
    SimHypervisor hvB;
    PeerServer serverA;
    PeerServer serverB;
    MigrationEngine a;
    MigrationEngine b;

    @BeforeEach
    void setUp() throws Exception {
        transport = new PeerTransport();
        hvA = SimHypervisor.open(dir.resolve("a"));
        hvB = SimHypervisor.open(dir.resolve("b"));
        serverA = PeerServer.start(transport, new InetSocketAddress("127.0.0.1", 0), peer -> true, c -> a.acceptIncoming(c));
        serverB = PeerServer.start(transport, new InetSocketAddress("127.0.0.1", 0), peer -> true, c -> b.acceptIncoming(c));
        Map<String, InetSocketAddress> peers = Map.of("hostA", serverA.address(), "hostB", serverB.address());
        Duration t = Duration.ofSeconds(20);
        a = new MigrationEngine(EngineConfig.of("hostA", hvA, dir.resolve("a"), new NettyPeerConnector(transport, peers, dev.migrationd.daemon.TestPeers.allowAll(peers)))
                .withTimeouts(t, t, Duration.ofMillis(100)));
        b = new MigrationEngine(EngineConfig.of("hostB", hvB, dir.resolve("b"), new NettyPeerConnector(transport, peers, dev.migrationd.daemon.TestPeers.allowAll(peers)))
                .withTimeouts(t, t, Duration.ofMillis(100)));
    }

    @AfterEach
    void tearDown() throws HypervisorException {
        a.close();
        b.close();
        serverA.close();
        serverB.close();
        transport.close();
        hvA.close();
        hvB.close();
    }

    @ParameterizedTest(name = "{0} {1}-bit, {2} workload, {3} stream")
    @CsvSource({"HVM, 64, AB, LEGACY", "PV, 64, AB, LEGACY", "PV, 32, RANDOM, LEGACY", "HVM, 64, RANDOM, LEGACY",
            "HVM, 64, AB, V2", "PV, 64, AB, V2", "PV, 32, RANDOM, V2"})
    void abGuestMovesWithItsMemoryIntact(GuestType type, int width, WorkloadSpec.Pattern pattern,
                                         MigrationOptions.StreamFormat format) throws Exception {
        long rate = pattern == WorkloadSpec.Pattern.AB ? 64L << 20 : 16L << 20;
        hvA.create(SimDomainSpec.of("ab1", 64L << 20, 2, type, Width.ofBits(width),
                WorkloadSpec.of(rate, 1.0, 0.0, pattern)).withFill(pattern == WorkloadSpec.Pattern.AB
                ? SimDomainSpec.Fill.ZERO : SimDomainSpec.Fill.RANDOM)); // ab needs a clean start: the checker reads byte 0
        Thread.sleep(200); // let the workload run
        MigrationResult r = MemoryCheckedMigration.migrate(a, hvA, b, hvB, "ab1", MigrationOptions.DEFAULTS.withFormat(format));
        assertTrue(hvA.findDomain("ab1").isEmpty(), "source copy destroyed");
        SimDomain moved = hvB.simDomain("ab1");
        Thread.sleep(100); // the moved guest keeps running its workload
        moved.pause();
        if (pattern == WorkloadSpec.Pattern.AB) {
            IntegrityOracle.AbResult ab = moved.checkAb();
            assertTrue(ab.ok(), ab.message());
        }
        assertTrue(r.downtime().total().toMillis() >= 0);
        assertTrue(r.setupTime().isPositive() && r.setupTime().compareTo(r.totalTime()) < 0,
                "set-up (start to Accept) is a part of the total: " + r.setupTime() + " of " + r.totalTime());
    }

    @ParameterizedTest(name = "{0} {1}-bit, {2} stream")
    @CsvSource({"HVM, 64, LEGACY", "PV, 64, LEGACY", "HVM, 64, V2"})
    void aMostlyZeroGuestMovesItsZeroPagesWithoutTheirData(GuestType type, int width, MigrationOptions.StreamFormat format)
            throws Exception {
        long memory = 64L << 20;
        hvA.create(SimDomainSpec.of("z1", memory, 1, type, Width.ofBits(width), WorkloadSpec.IDLE)
                .withFill(SimDomainSpec.Fill.ZERO));
        MigrationResult r = MemoryCheckedMigration.migrate(a, hvA, b, hvB, "z1", MigrationOptions.DEFAULTS.withFormat(format));
        // the guest's own structures (page tables, descriptors) carry data; its zero pages go as XALLOC entries
        assertTrue(r.bytes() < memory / 16, "a zero guest of " + memory + " bytes took " + r.bytes() + " stream bytes");
    }

    @ParameterizedTest(name = "{0} {1}-bit, {2} stream")
    @CsvSource({"HVM, 64, LEGACY", "PV, 64, LEGACY", "HVM, 64, V2"})
    void zeroPagesCarryTheirDataToADestinationWhoseAllocationsAreNotZero(GuestType type, int width,
            MigrationOptions.StreamFormat format) throws Exception {
        // hostB allocates like Xen: a page populated without data holds what its last owner left there
        hvB.setUnscrubbedAllocations(true);
        long memory = 16L << 20;
        hvA.create(SimDomainSpec.of("z2", memory, 1, type, Width.ofBits(width), WorkloadSpec.IDLE)
                .withFill(SimDomainSpec.Fill.ZERO));
        long populated;
        dev.migrationd.hypervisor.GuestMemory guest = hvA.simDomain("z2").memory();
        try (dev.migrationd.hypervisor.DirtyBitmap p = new dev.migrationd.hypervisor.DirtyBitmap(guest.p2mSize())) {
            populated = guest.populated(p);
        }
        MigrationResult r = MemoryCheckedMigration.migrate(a, hvA, b, hvB, "z2", MigrationOptions.DEFAULTS.withFormat(format));
        assertTrue(r.bytes() > populated * 4096, "every populated page went with its data: " + r.bytes()
                + " stream bytes for " + populated + " pages");
    }

    @ParameterizedTest(name = "{0} {1}-bit")
    @CsvSource({"HVM, 64", "PV, 64", "PV, 32"})
    void aV2SaveOfASimGuestPassesXensVerifierAndRestores(GuestType type, int width) throws Exception {
        hvA.create(SimDomainSpec.of("sv1", 16L << 20, 2, type, Width.ofBits(width),
                WorkloadSpec.of(8L << 20, 1.0, 0.0, WorkloadSpec.Pattern.RANDOM)).withFill(SimDomainSpec.Fill.RANDOM));
        Thread.sleep(100); // let the workload run
        SimDomain src = hvA.simDomain("sv1");
        src.pause(); // the memory saved is the memory now
        long hash = src.memoryHash();
        Path file = dir.resolve("sv1.v2");
        a.save(new SaveRequest("sv1", file, MigrationOptions.StreamFormat.V2, false, false, false));
        dev.migrationd.protocol.testing.XenTools.Result ver = dev.migrationd.protocol.testing.XenTools.require()
                .verifyV2(file, "libxc");
        assertTrue(ver.ok(), ver.output());
        b.restore(new RestoreRequest(file, "sv1", true));
        SimDomain restored = hvB.simDomain("sv1");
        assertEquals(dev.migrationd.hypervisor.DomainState.PAUSED, restored.info().state());
        assertTrue(hvA.findDomain("sv1").isEmpty(), "saved without -c: the source is gone");
        assertEquals(hash, restored.memoryHash(), "restored memory = saved memory");
    }

    @Test
    void cancelledMigrationLeavesTheAbGuestRunningOnTheSourceIntact() throws Exception {
        hvA.create(SimDomainSpec.of("ab2", 64L << 20, 1, GuestType.HVM, Width.W64,
                WorkloadSpec.of(64L << 20, 1.0, 0.0, WorkloadSpec.Pattern.AB)));
        a.addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                if (to instanceof MigrationPhase.StopAndCopy) {
                    m.id();
                    try {
                        a.cancel(m.id());
                    } catch (EngineException e) {
                        throw new AssertionError(e);
                    }
                }
            }
        });
        MigrationResult r = a.start(MigrationRequest.of("ab2", "hostB", MigrationOptions.DEFAULTS))
                .result().get(120, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.CANCELLED, r.outcome());
        // the source reports the cancel only once the destination confirmed it destroyed its copy
        assertTrue(hvB.findDomain("ab2").isEmpty(), "nothing left on the destination when the source reports the end");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (b.list().stream().anyMatch(s -> s.outcome().isEmpty()) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        SimDomain d = hvA.simDomain("ab2");
        assertEquals(dev.migrationd.hypervisor.DomainState.RUNNING, d.info().state());
        assertFalse(d.dirtyLog().enabled());
        d.pause();
        IntegrityOracle.AbResult ab = d.checkAb();
        assertTrue(ab.ok(), ab.message());
    }
}
