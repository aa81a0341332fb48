package dev.migrationd.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.migrationd.control.cli.ExitCode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest dirtying memory faster than the link converges under the {@code downtime} policy because the engine
 * throttles it. Two daemon processes, the link capped at 32 MiB/s, the guest dirtying 128 MiB/s over all of its
 * 64 MiB. Compression is off: the guest's pattern compresses so well that a compressed stream outruns its
 * dirtying without any throttle, which is not what this test is about.
 */
class ThrottleConvergenceProcessTest {

    @TempDir
    Path dir;

    @Test
    void aGuestDirtyingFasterThanTheLinkConvergesByThrottling() throws Exception {
        try (ProcessPair pair = ProcessPair.start(dir, List.of("--compression", "off"))) {
            Ctl.ok("domain", "create", "fast1", "--daemon", pair.a.addr(), "--memory", "64MiB", "--dirty-rate", "128MiB/s",
                    "--working-set", "100%", "--pattern", "ab");
            Ctl.Result r = Ctl.run("migrate", "fast1", "--to", "hostB", "--daemon", pair.a.addr(), "--format", "json",
                    "--policy", "downtime", "--bandwidth", "32MiB/s", "--max-downtime", "300ms", "--max-rounds", "12",
                    "--timeout", "5m", "--on-timeout", "abort");
            List<JsonObject> rounds = r.json().stream().filter(o -> o.has("round")).map(o -> o.getAsJsonObject("round")).toList();
            assertTrue(rounds.stream().anyMatch(x -> x.get("throttlePercent").getAsInt() > 0), "the guest was throttled:\n" + r.out());
            assertEquals(ExitCode.OK, r.code(), "the throttled guest did not converge (see the class comment); rounds:\n"
                    + String.join("\n", rounds.stream().map(x -> "round " + x.get("round") + " dirtied " + x.get("pagesDirtied")
                    + " throttle " + x.get("throttlePercent") + "% dirty rate " + Math.round(x.get("dirtyRateBytesPerSecond").getAsDouble())
                    + " B/s").toList()) + "\n" + r.last());
            pair.assertExactlyOneCopy("fast1", pair.b);
            JsonObject moved = Ctl.inspect(pair.b.addr(), "fast1");
            assertTrue(moved.get("abOk").getAsBoolean(), moved.toString());
        }
    }
}
