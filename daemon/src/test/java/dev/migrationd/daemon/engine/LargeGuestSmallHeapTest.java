package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.transport.NettyPeerConnector;
import dev.migrationd.daemon.transport.PeerServer;
import dev.migrationd.daemon.transport.PeerTransport;
import dev.migrationd.hypervisor.sim.SimDomain;
import dev.migrationd.hypervisor.sim.SimDomainSpec;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import dev.migrationd.hypervisor.sim.WorkloadSpec;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 1 GiB sim guest migrates between two engines in a JVM whose heap is 128 MiB (surefire execution
 * {@code small-heap}): pages go from the mapped guest memory to the socket and from the socket buffer into
 * the new guest's memory without per-page heap copies, and in-flight data is bounded by the watermarks.
 */
class LargeGuestSmallHeapTest {

    static final long GUEST_BYTES = 1L << 30;
    static final long HEAP_LIMIT = 160L << 20;

    @TempDir
    Path dir;

    @Test
    void oneGibGuestMigratesWithA128MibHeap() throws Exception {
        long maxHeap = Runtime.getRuntime().maxMemory();
        assertTrue(maxHeap <= HEAP_LIMIT, "this test must run with -Xmx128m (surefire execution small-heap), heap is " + maxHeap);
        try (PeerTransport transport = new PeerTransport();
             SimHypervisor hvA = SimHypervisor.open(dir.resolve("a"));
             SimHypervisor hvB = SimHypervisor.open(dir.resolve("b"))) {
            MigrationEngine[] engines = new MigrationEngine[2];
            try (PeerServer sa = PeerServer.start(transport, new InetSocketAddress("127.0.0.1", 0), peer -> true, c -> engines[0].acceptIncoming(c));
                 PeerServer sb = PeerServer.start(transport, new InetSocketAddress("127.0.0.1", 0), peer -> true, c -> engines[1].acceptIncoming(c))) {
                Map<String, InetSocketAddress> peers = Map.of("hostA", sa.address(), "hostB", sb.address());
                Duration t = Duration.ofSeconds(60);
                engines[0] = new MigrationEngine(EngineConfig.of("hostA", hvA, dir.resolve("a"),
                        new NettyPeerConnector(transport, peers, dev.migrationd.daemon.TestPeers.allowAll(peers))).withTimeouts(t, t, Duration.ofMillis(100)));
                engines[1] = new MigrationEngine(EngineConfig.of("hostB", hvB, dir.resolve("b"),
                        new NettyPeerConnector(transport, peers, dev.migrationd.daemon.TestPeers.allowAll(peers))).withTimeouts(t, t, Duration.ofMillis(100)));
                // an ab guest over a 64 MiB working set; the rest of its 1 GiB is zero pages, sent as allocate-only entries
                SimDomain src = hvA.create(SimDomainSpec.of("big", GUEST_BYTES, 2, GuestType.HVM, Width.W64,
                        WorkloadSpec.of(32L << 20, 1.0 / 16, 0.0, WorkloadSpec.Pattern.AB)));
                long hashBefore;
                src.pause();
                hashBefore = src.memoryHash();
                src.resume();
                MigrationHandle h = engines[0].start(MigrationRequest.of("big", "hostB", MigrationOptions.DEFAULTS));
                MigrationResult r = h.result().get(10, TimeUnit.MINUTES);
                assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
                SimDomain dst = hvB.simDomain("big");
                // every page arrived: the working set's with their data, the zero rest as allocate-only entries
                try (dev.migrationd.hypervisor.DirtyBitmap all = new dev.migrationd.hypervisor.DirtyBitmap(dst.memory().p2mSize())) {
                    assertEquals(dst.memory().p2mSize(), dst.memory().populated(all), "every page is populated on the destination");
                }
                assertTrue(r.bytes() < GUEST_BYTES, "the zero pages went without their data: " + r.bytes());
                dst.pause();
                var ab = dst.checkAb();
                assertTrue(ab.ok(), ab.message());
                assertTrue(hashBefore != 0);
                long peakHeap = 0;
                for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
                    if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
                        peakHeap += p.getPeakUsage().getUsed();
                    }
                }
                System.out.printf("small-heap: guest=%d MiB heap max=%d MiB peak(sum of pools)=%d MiB time=%d ms bandwidth=%.0f MiB/s%n",
                        GUEST_BYTES >> 20, maxHeap >> 20, peakHeap >> 20, r.totalTime().toMillis(),
                        r.bytes() / (1024.0 * 1024) / Math.max(0.001, r.totalTime().toMillis() / 1000.0));
                engines[0].close();
                engines[1].close();
            }
        }
    }
}
