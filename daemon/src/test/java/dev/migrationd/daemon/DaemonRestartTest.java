package dev.migrationd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DomainState;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.ListMigrationsRequest;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.MigrationOptions;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.control.v1.Outcome;
import dev.migrationd.control.v1.Phase;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.control.v1.Workload;
import dev.migrationd.control.v1.WritePattern;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stopping a daemon in the middle of a migration (what SIGTERM does): the migration ends before the
 * commit point, the domain stays on the source, nothing is left on the destination, and after a restart
 * the source still runs the domain and lists the migration in its history.
 */
class DaemonRestartTest {

    @TempDir
    Path dir;

    static <T> T call(String addr, Function<MigrationServiceGrpc.MigrationServiceBlockingStub, T> f) {
        ManagedChannel ch = NettyChannelBuilder.forTarget(addr).usePlaintext().build();
        try {
            return f.apply(MigrationServiceGrpc.newBlockingStub(ch).withDeadlineAfter(java.time.Duration.ofSeconds(30)));
        } finally {
            ch.shutdownNow();
        }
    }

    static boolean has(String addr, String name) {
        return call(addr, s -> s.listDomains(ListDomainsRequest.getDefaultInstance())).getDomainsList().stream()
                .anyMatch(d -> d.getName().equals(name));
    }

    @Test
    void stopDuringPrecopyKeepsTheDomainAndTheHistory() throws Exception {
        TwoDaemons daemons = new TwoDaemons(dir);
        Daemon restarted = null;
        try {
            call(daemons.aAddr(), s -> s.createDomain(CreateDomainRequest.newBuilder().setName("domR").setMemoryBytes(256L << 20)
                    .setVcpus(1).setWorkload(Workload.newBuilder().setDirtyRateBytesPerSecond(200L << 20).setWorkingSetFraction(1.0)
                            .setPattern(WritePattern.WRITE_PATTERN_RANDOM)).build()));
            // capped at 4 MiB/s, round 0 alone takes a minute: the daemon stops in the middle of it
            String id = call(daemons.aAddr(), s -> s.startMigration(StartMigrationRequest.newBuilder().setDomain("domR")
                    .setDestination("hostB").setIdempotencyKey("restart-1")
                    .setOptions(MigrationOptions.newBuilder().setBandwidthBytesPerSecond(4L << 20)).build()))
                    .getMigration().getId();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            Migration m;
            do {
                Thread.sleep(100);
                m = call(daemons.aAddr(), s -> s.getMigration(GetMigrationRequest.newBuilder().setId(id).build()));
            } while (m.getPhase() != Phase.PHASE_PRECOPY && System.nanoTime() < deadline);
            assertEquals(Phase.PHASE_PRECOPY, m.getPhase(), "did not reach pre-copy: " + m);
            Thread.sleep(1000); // some pages are on the destination

            DaemonConfig aConfig = daemons.a.config();
            daemons.a.close(); // what the shutdown hook does on SIGTERM

            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (has(daemons.bAddr(), "domR") && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(!has(daemons.bAddr(), "domR"), "the destination destroyed its partial copy");

            // same name and state directory; a fresh peer port, so that the restart never waits on the old socket
            restarted = Daemon.start(new DaemonConfig(aConfig.name(), aConfig.backend(), aConfig.stateDir(),
                    aConfig.control(), new java.net.InetSocketAddress("127.0.0.1", 0), aConfig.metricsListen(),
                    aConfig.peers(), aConfig.simPrefault(), aConfig.healthListen(), aConfig.peerLink(), aConfig.limits(),
                    aConfig.saveDirs(), aConfig.journalRetention(), aConfig.timeouts()));
            String addr = "127.0.0.1:" + restarted.controlPort();
            var domains = call(addr, s -> s.listDomains(ListDomainsRequest.getDefaultInstance())).getDomainsList();
            var domR = domains.stream().filter(d -> d.getName().equals("domR")).findFirst().orElseThrow(
                    () -> new AssertionError("domR is gone after the restart: " + domains));
            assertEquals(DomainState.DOMAIN_STATE_RUNNING, domR.getState(), "the source runs its domain again");
            Migration after = call(addr, s -> s.listMigrations(ListMigrationsRequest.getDefaultInstance())).getMigrationsList()
                    .stream().filter(x -> x.getId().equals(id)).findFirst()
                    .orElseThrow(() -> new AssertionError("migration " + id + " missing from the history after a restart"));
            assertTrue(after.hasResult(), after.toString());
            assertNotEquals(Outcome.OUTCOME_SUCCEEDED, after.getResult().getOutcome(), after.toString());
            assertEquals("domR", after.getDomain());
        } finally {
            if (restarted != null) {
                restarted.close();
            }
            daemons.close();
        }
    }
}
