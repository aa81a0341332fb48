package dev.migrationd.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.daemon.e2e.CutProxy.Cut;
import dev.migrationd.daemon.e2e.CutProxy.Dir;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Two migrationd daemons as separate processes on loopback (sim backend), driven by migrationctl, with a
 * frame-aware TCP proxy between them: guests move with their memory intact while they dirty it; cancel,
 * a second migration of a migrating domain, the round limit under a bandwidth cap; and the
 * connection cut before and after the commit point. After every test exactly one copy of the domain
 * runs and neither state directory holds a leftover.
 *
 * <p>The daemons are shared by the tests (each test uses its own domain name).
 */
class TwoProcessMigrationTest {

    @TempDir
    static Path dir;
    static ProcessPair pair;

    @BeforeAll
    static void start() throws Exception {
        pair = ProcessPair.start(dir);
    }

    @AfterAll
    static void stop() {
        if (pair != null) {
            pair.close();
        }
    }

    private String a() {
        return pair.a.addr();
    }

    private String b() {
        return pair.b.addr();
    }

    private static long counter(JsonObject details) {
        return details.get("workloadCounter").getAsLong();
    }

    /** B's memory at its pause equals A's at its pause, the a-b check passes on B, and B's workload counts on. */
    private void assertMovedIntact(String domain, String id, long counterBefore) throws Exception {
        pair.assertExactlyOneCopy(domain, pair.b);
        String source = pair.a.hashes(id).get("source");
        String destination = pair.b.hashes(id).get("destination");
        assertNotNull(source, "hostA printed no memory hash for " + id + ":\n" + ProcessPair.tail(pair.a.log()));
        assertEquals(source, destination, "hostB's memory before unpause = hostA's memory at the pause");
        JsonObject first = Ctl.inspect(b(), domain);
        assertTrue(first.get("abChecked").getAsBoolean() && first.get("abOk").getAsBoolean(), first.toString());
        Thread.sleep(500);
        JsonObject second = Ctl.inspect(b(), domain);
        assertTrue(second.get("abOk").getAsBoolean(), second.toString());
        assertTrue(counter(first) > counterBefore, "the counter carried over and went on: " + counterBefore + " -> " + counter(first));
        assertTrue(counter(second) > counter(first), "the workload runs on hostB: " + counter(first) + " -> " + counter(second));
    }

    @ParameterizedTest(name = "{0} guest")
    @CsvSource({"hvm, 2", "pv, 1"})
    void abGuestDirtyingMemoryMovesIntact(String type, int vcpus) throws Exception {
        String domain = "ab-" + type;
        Ctl.ok("domain", "create", domain, "--daemon", a(), "--memory", "128MiB", "--vcpus", String.valueOf(vcpus), "--type", type,
                "--dirty-rate", "64MiB/s", "--working-set", "100%", "--pattern", "ab");
        Thread.sleep(300);
        long before = counter(Ctl.inspect(a(), domain));
        Ctl.Result r = Ctl.run("migrate", domain, "--to", "hostB", "--daemon", a(), "--format", "json");
        assertEquals(ExitCode.OK, r.code(), r.toString());
        JsonObject result = r.last().getAsJsonObject("result");
        assertEquals("OUTCOME_SUCCEEDED", result.get("outcome").getAsString(), r.toString());
        assertTrue(r.json().stream().anyMatch(o -> o.has("round") && o.getAsJsonObject("round").get("pagesDirtied").getAsLong() > 0),
                "the guest dirtied pages during the move:\n" + r.out());
        assertMovedIntact(domain, r.last().get("id").getAsString(), before);
        Ctl.ok("domain", "destroy", domain, "--daemon", b());
    }

    @Test
    void cancelInPrecopyAndASecondMigrationIsRefused() throws Exception {
        String domain = "cancel1";
        Ctl.ok("domain", "create", domain, "--daemon", a(), "--memory", "128MiB", "--fill", "random",
                "--dirty-rate", "64MiB/s", "--working-set", "100%");
        // 4 MiB/s: round 0 alone takes half a minute
        String id = Ctl.startDetached("migrate", domain, "--to", "hostB", "--daemon", a(), "--detach", "--format", "json",
                "--bandwidth", "4MiB/s", "--max-rounds", "10000", "--timeout", "5m");
        Ctl.waitForPhase(a(), id, "PHASE_PRECOPY");

        Ctl.Result second = Ctl.run("migrate", domain, "--to", "hostB", "--daemon", a());
        assertEquals(ExitCode.REFUSED, second.code(), second.toString());
        assertTrue(second.err().contains(domain) && second.err().contains("migrat"), second.err());
        assertEquals(1, second.err().strip().lines().count(), "one line: " + second.err());
        assertTrue(Ctl.domains(b()).containsKey(domain), "the first migration goes on (hostB is receiving)");

        Ctl.ok("cancel", id, "--daemon", a());
        Ctl.Result watch = Ctl.run("watch", id, "--daemon", a());
        assertEquals(ExitCode.CANCELLED, watch.code(), watch.toString());
        assertEquals("OUTCOME_CANCELLED", Ctl.status(a(), id).getAsJsonObject("result").get("outcome").getAsString());
        pair.assertExactlyOneCopy(domain, pair.a);
        Ctl.ok("domain", "destroy", domain, "--daemon", a());
    }

    @Test
    void roundLimitWithAbortKeepsTheGuestRunningOnTheSource() throws Exception {
        String domain = "fast2";
        Ctl.ok("domain", "create", domain, "--daemon", a(), "--memory", "128MiB", "--fill", "random", "--dirty-rate", "256MiB/s",
                "--working-set", "100%");
        // 1 ms at 32 MiB/s is 8 pages: no round gets there, the limit of 2 rounds ends it
        Ctl.Result r = Ctl.run("migrate", domain, "--to", "hostB", "--daemon", a(), "--format", "json",
                "--bandwidth", "32MiB/s", "--max-downtime", "1ms", "--max-rounds", "2", "--timeout", "5m", "--on-timeout", "abort");
        assertEquals(ExitCode.FAILED, r.code(), r.toString());
        assertEquals("OUTCOME_ABORTED", r.last().getAsJsonObject("result").get("outcome").getAsString(), r.toString());
        pair.assertExactlyOneCopy(domain, pair.a);
        long c1 = counter(Ctl.inspect(a(), domain));
        Thread.sleep(300);
        assertTrue(counter(Ctl.inspect(a(), domain)) > c1, "the guest runs on hostA");
        Ctl.ok("domain", "destroy", domain, "--daemon", a());
    }

    @Test
    void connectionCutDuringRound0LeavesTheGuestOnTheSource() throws Exception {
        String domain = "cut0";
        Ctl.ok("domain", "create", domain, "--daemon", a(), "--memory", "128MiB", "--fill", "random",
                "--dirty-rate", "16MiB/s", "--working-set", "25%");
        pair.proxy.arm(CutProxy.afterStreamBytes(8L << 20), () -> { });
        Ctl.Result r = Ctl.run("migrate", domain, "--to", "hostB", "--daemon", a(), "--format", "json", "--bandwidth", "16MiB/s");
        CutProxy.Frame at = pair.proxy.awaitCut(5);
        assertEquals(Dir.TO_DESTINATION, at.dir());
        assertEquals(ExitCode.FAILED, r.code(), r.toString());
        assertEquals("OUTCOME_FAILED", r.last().getAsJsonObject("result").get("outcome").getAsString(), r.toString());
        pair.assertExactlyOneCopy(domain, pair.a);
        Ctl.ok("domain", "destroy", domain, "--daemon", a());
    }

    /**
     * The connection dies at the commit point; the source reconnects through the proxy and asks the
     * destination. GO,AFTER: the destination got Go and runs the guest, the source never hears Running.
     * RUNNING,BEFORE: the destination's Running is lost on the way.
     */
    @ParameterizedTest(name = "cut {2} {0}")
    @CsvSource({"GO, AFTER, TO_DESTINATION", "RUNNING, BEFORE, TO_SOURCE"})
    void connectionCutAfterGoIsResolvedByReconnecting(String envelope, Cut cut, Dir dir) throws Exception {
        String domain = ("go-" + envelope).toLowerCase(java.util.Locale.ROOT);
        Ctl.ok("domain", "create", domain, "--daemon", a(), "--memory", "64MiB", "--dirty-rate", "32MiB/s",
                "--working-set", "100%", "--pattern", "ab");
        Thread.sleep(200);
        long before = counter(Ctl.inspect(a(), domain));
        pair.proxy.arm(CutProxy.at(dir, envelope, cut), () -> { });
        Ctl.Result r = Ctl.run("migrate", domain, "--to", "hostB", "--daemon", a(), "--format", "json");
        pair.proxy.awaitCut(5);
        assertEquals(ExitCode.OK, r.code(), r.toString() + "\n--- hostA:\n" + ProcessPair.tail(pair.a.log()));
        assertTrue(r.json().stream().anyMatch(o -> o.has("phase") && o.getAsJsonObject("phase").get("phase").getAsString().equals("PHASE_IN_DOUBT")),
                "the source went through IN_DOUBT:\n" + r.out());
        assertMovedIntact(domain, r.last().get("id").getAsString(), before);
        Ctl.ok("domain", "destroy", domain, "--daemon", b());
    }

    /** Go never reaches the destination: it destroys what it built, the source learns so and resumes. */
    @Test
    void goLostOnTheWayLeavesTheGuestOnTheSource() throws Exception {
        String domain = "go-lost";
        Ctl.ok("domain", "create", domain, "--daemon", a(), "--memory", "64MiB", "--dirty-rate", "32MiB/s",
                "--working-set", "100%", "--pattern", "ab");
        pair.proxy.arm(CutProxy.at(Dir.TO_DESTINATION, "GO", Cut.BEFORE), () -> { });
        Ctl.Result r = Ctl.run("migrate", domain, "--to", "hostB", "--daemon", a(), "--format", "json");
        pair.proxy.awaitCut(5);
        assertEquals(ExitCode.FAILED, r.code(), r.toString() + "\n--- hostA:\n" + ProcessPair.tail(pair.a.log()));
        pair.assertExactlyOneCopy(domain, pair.a);
        JsonObject after = Ctl.inspect(a(), domain);
        assertTrue(after.get("abOk").getAsBoolean(), after.toString());
        Thread.sleep(300);
        assertTrue(counter(Ctl.inspect(a(), domain)) > counter(after), "the guest runs on hostA again");
        Map<String, JsonObject> onB = Ctl.domains(b());
        assertTrue(!onB.containsKey(domain), onB.toString());
        Ctl.ok("domain", "destroy", domain, "--daemon", a());
    }
}
