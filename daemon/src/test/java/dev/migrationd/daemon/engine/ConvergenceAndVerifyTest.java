package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Convergence under the downtime policy (throttling, abort), and verify mode. */
class ConvergenceAndVerifyTest {

    /** 1024 pages at 64 MiB/s: a round takes ~62 ms, far above a 20 ms target while every page is dirtied again. */
    static final MigrationOptions HARD = MigrationOptions.DEFAULTS.withMaxDowntime(Duration.ofMillis(20))
            .withBandwidthCap(64L << 20);

    @TempDir
    Path dir;

    @Test
    void throttlingMakesAHotGuestConverge() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 1024);
            src.hashOnPause(true);
            src.startWorkload(1024, 100);
            EnginePair.Recorder rec = new EnginePair.Recorder();
            pair.a.engine.addObserver(rec);
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB",
                    HARD.withTimeout(Duration.ofMinutes(1), MigrationOptions.TimeoutAction.FORCE)))
                    .result().get(60, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
            assertTrue(rec.rounds.stream().anyMatch(s -> s.throttlePercent() >= 20), "the guest was throttled: " + rec.rounds);
            int last = -1;
            for (RoundStats s : rec.rounds) {
                assertTrue(s.throttlePercent() >= last, "throttle only increases");
                last = s.throttlePercent();
            }
            assertEquals(src.atPause(), pair.b.hv.guest("vm1").orElseThrow().atStart());
        }
    }

    @Test
    void withoutThrottlingTheRoundLimitAbortsAndTheGuestStaysOnTheSource() throws Exception {
        Set<Capability> noThrottle = EnumSet.of(Capability.RESTORE);
        try (EnginePair pair = new EnginePair(dir, noThrottle, EnumSet.allOf(Capability.class))) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 1024);
            // every page dirty again after every round, whether or not the guest's vCPUs got a CPU meanwhile: the
            // round limit is reached however loaded the machine is
            src.alwaysDirty(1024);
            src.startWorkload(1024, 100);
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", HARD.withMaxRounds(4)
                    .withTimeout(Duration.ofMinutes(1), MigrationOptions.TimeoutAction.ABORT)))
                    .result().get(60, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.ABORTED, r.outcome(), r.reason());
            assertTrue(r.reason().contains("round limit 4"), r.reason());
            assertEquals(4, r.rounds());
            pair.awaitDestinationIdle();
            assertTrue(src.running());
            assertEquals(0, src.pauses(), "never paused");
            assertFalse(pair.b.hv.names().contains("vm1"));
        }
    }

    @Test
    void timeLimitWithForceStopsAndCopies() throws Exception {
        Set<Capability> noThrottle = EnumSet.of(Capability.RESTORE);
        try (EnginePair pair = new EnginePair(dir, noThrottle, EnumSet.allOf(Capability.class))) {
            SimGuest src = pair.guest("vm1", GuestType.PV, 1024);
            src.hashOnPause(true);
            src.startWorkload(1024, 100);
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB",
                    HARD.withTimeout(Duration.ofMillis(1), MigrationOptions.TimeoutAction.FORCE)))
                    .result().get(60, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
            assertEquals(2, r.rounds(), "round 0, then forced stop-and-copy");
            assertEquals(src.atPause(), pair.b.hv.guest("vm1").orElseThrow().atStart());
        }
    }

    @Test
    void verifyModeResendsEverythingAndPasses() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 2048);
            src.hashOnPause(true);
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB",
                    MigrationOptions.DEFAULTS.withVerify(MigrationOptions.VerifyMode.ON))).result().get(60, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
            assertTrue(r.bytes() > 2 * 2048L * 4096, "every page went twice: " + r.bytes());
            assertEquals(src.atPause(), pair.b.hv.guest("vm1").orElseThrow().atStart());
        }
    }

    @Test
    void verifyModeCatchesADifferenceAndTheMigrationFails() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 2048);
            pair.b.hv.corruptPfnOnFirstWrite.set(7); // the destination's first copy of pfn 7 is damaged
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB",
                    MigrationOptions.DEFAULTS.withVerify(MigrationOptions.VerifyMode.ON))).result().get(60, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
            assertTrue(r.reason().contains("verify: 1 pages differ") && r.reason().contains("0x7"), r.reason());
            pair.awaitDestinationIdle();
            assertTrue(src.running());
            assertFalse(pair.b.hv.names().contains("vm1"));
        }
    }
}
