package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A SimHypervisor reopened on the same state directory finds its domains as they were. */
class SimRestartTest {

    @TempDir
    Path state;

    @Test
    void domainsSurviveARestartWithTheirMemoryStateAndWorkload() throws Exception {
        List<DomainInfo> before;
        long pausedHash;
        long idleHash;
        long abCounter;
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain ab = hv.create(SimDomainSpec.of("ab", 8 * SimTestSupport.MIB, 2, GuestType.PV, Width.W64,
                    WorkloadSpec.of(20 * SimTestSupport.MIB, 1.0, 0, WorkloadSpec.Pattern.AB)));
            SimDomain paused = hv.create(SimDomainSpec.of("paused", 8 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64,
                    WorkloadSpec.of(20 * SimTestSupport.MIB, 0.5, 0, WorkloadSpec.Pattern.RANDOM))
                    .withFill(SimDomainSpec.Fill.RANDOM));
            SimDomain idle = hv.create(SimDomainSpec.of("idle", 8 * SimTestSupport.MIB, 1, GuestType.PV, Width.W32,
                    WorkloadSpec.IDLE).withFill(SimDomainSpec.Fill.RANDOM));
            SimTestSupport.await("writes", 5000, () -> SimTestSupport.counter(ab) > 500 && SimTestSupport.counter(paused) > 500);
            paused.pause();
            paused.throttle().orElseThrow().setPercent(30);
            pausedHash = paused.memoryHash();
            idleHash = idle.memoryHash();
            before = hv.listDomains();
            abCounter = ab.workloadCounter();
        }
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            assertEquals(before, hv.listDomains(), "same names, domids, uuids, shapes and states");
            SimDomain paused = hv.simDomain("paused");
            assertEquals(DomainState.PAUSED, paused.info().state());
            assertEquals(pausedHash, paused.memoryHash());
            assertEquals(30, paused.throttle().orElseThrow().percent());
            SimDomain idle = hv.simDomain("idle");
            assertEquals(DomainState.RUNNING, idle.info().state());
            assertEquals(idleHash, idle.memoryHash());
            SimDomain ab = hv.simDomain("ab");
            assertEquals(DomainState.RUNNING, ab.info().state());
            long resumedAt = abCounter;
            SimTestSupport.await("the ab workload to resume after the restart", 5000,
                    () -> SimTestSupport.counter(ab) > resumedAt + 500);
            ab.pause();
            var r = ab.checkAb();
            assertTrue(r.ok(), "memory and registers stayed consistent over the restart: " + r.message());
            int next = hv.create(SimDomainSpec.of("new", 4 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64,
                    WorkloadSpec.IDLE)).info().domid();
            assertTrue(before.stream().allMatch(i -> i.domid() < next), "domids are not reused after a restart");
            ab.destroy();
        }
        assertTrue(Files.notExists(state.resolve("sim/ab")));
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            assertEquals(List.of("paused", "idle", "new"), hv.listDomains().stream().map(DomainInfo::name).toList());
        }
    }

    @Test
    void aDomainSurvivesAKilledDaemon() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx64m",
                "-cp", System.getProperty("java.class.path"), SimCrashChild.class.getName(), state.toString())
                .redirectErrorStream(true).start();
        long counterAtReady;
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()))) {
            String line;
            do {
                line = out.readLine();
                if (line == null) {
                    throw new AssertionError("child exited without READY, exit " + child.waitFor());
                }
            } while (!line.startsWith("READY "));
            counterAtReady = Long.parseLong(line.substring(6).trim());
            Thread.sleep(150); // killed in the middle of its writes
        } finally {
            child.destroyForcibly(); // SIGKILL: no close(), no metadata write
            child.waitFor();
        }
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.simDomain("crash");
            assertEquals(DomainState.RUNNING, d.info().state());
            long start = d.workloadCounter();
            assertTrue(start >= counterAtReady, "guest state lost progress: " + start + " < " + counterAtReady);
            SimTestSupport.await("the workload to continue after the crash", 5000,
                    () -> SimTestSupport.counter(d) > start + 2000);
            d.pause();
            var r = d.checkAb();
            assertTrue(r.ok(), "after SIGKILL and restart: " + r.message());
        }
    }

    @Test
    void corruptMetadataIsReportedNamingTheFile() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            hv.create(SimDomainSpec.of("x", 4 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
        }
        Path meta = state.resolve("sim/x/" + SimMetadata.FILE);
        Files.writeString(meta, Files.readString(meta).replaceFirst("p2mSize=\\d+", "p2mSize=99999999999"));
        HypervisorException e = assertThrows(HypervisorException.class, () -> SimHypervisor.open(state));
        assertTrue(e.getMessage().contains("domain.properties") && e.getMessage().contains("p2mSize"), e.getMessage());
        // the failed open released the directory: a fixed file opens again
        Files.writeString(meta, Files.readString(meta).replaceFirst("p2mSize=\\d+", "p2mSize=1024"));
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            assertEquals(1, hv.listDomains().size());
        }
    }
}
