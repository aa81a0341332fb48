package dev.migrationd.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.migrationd.daemon.e2e.CutProxy.Cut;
import dev.migrationd.daemon.e2e.CutProxy.Dir;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daemon process SIGKILLed in the middle of a migration, at points the proxy picks from the frames it
 * sees, then started again on the same state directory: exactly one copy of the domain runs afterwards
 * and neither state directory holds a half-built domain. Each test has its own pair of daemons.
 */
class ProcessKillTest {

    @TempDir
    Path dir;
    ProcessPair pair;

    @BeforeEach
    void start() throws Exception {
        pair = ProcessPair.start(dir);
    }

    @AfterEach
    void stop() {
        if (pair != null) {
            pair.close();
        }
    }

    private void createMovingGuest(String domain) {
        Ctl.ok("domain", "create", domain, "--daemon", pair.a.addr(), "--memory", "128MiB", "--fill", "random",
                "--dirty-rate", "16MiB/s", "--working-set", "25%");
    }

    private void createAbGuest(String domain) {
        Ctl.ok("domain", "create", domain, "--daemon", pair.a.addr(), "--memory", "64MiB", "--dirty-rate", "32MiB/s",
                "--working-set", "100%", "--pattern", "ab");
    }

    /** The source's outcome of a migration (from its history, which survives restarts). */
    private String outcome(String id) {
        Ctl.Result r = Ctl.run("status", id, "--daemon", pair.a.addr(), "--format", "json");
        if (r.code() != 0) {
            throw new AssertionError("hostA does not know migration " + id + " after its restart: " + r.err().strip()
                    + "\n--- hostA log:\n" + ProcessPair.tail(pair.a.log()));
        }
        JsonObject m = r.last();
        return m.has("result") && !m.getAsJsonObject("result").get("outcome").getAsString().equals("OUTCOME_UNSPECIFIED")
                ? m.getAsJsonObject("result").get("outcome").getAsString() : "running: " + m.get("phase");
    }

    @Test
    void destinationKilledMidStream() throws Exception {
        createMovingGuest("k1");
        pair.proxy.arm(CutProxy.afterStreamBytes(8L << 20), pair.b::kill);
        Ctl.Result r = Ctl.run("migrate", "k1", "--to", "hostB", "--daemon", pair.a.addr(), "--format", "json", "--bandwidth", "16MiB/s");
        pair.proxy.awaitCut(5);
        assertFalse(pair.b.alive());
        assertEquals(1, r.code(), r.toString());
        assertEquals("OUTCOME_FAILED", r.last().getAsJsonObject("result").get("outcome").getAsString(), r.toString());

        pair.b.restart(); // finds what the killed process left on disk
        pair.assertExactlyOneCopy("k1", pair.a);
        assertTrue(pair.b.simDomainDirs().isEmpty(), "hostB's sim directory after the restart: " + pair.b.simDomainDirs());
    }

    @Test
    void sourceKilledMidPrecopyAndRestarted() throws Exception {
        createMovingGuest("k2");
        pair.proxy.arm(CutProxy.afterStreamBytes(8L << 20), pair.a::kill);
        String id = Ctl.startDetached("migrate", "k2", "--to", "hostB", "--daemon", pair.a.addr(), "--detach", "--format", "json",
                "--bandwidth", "16MiB/s");
        pair.proxy.awaitCut(30);
        assertFalse(pair.a.alive());
        Ctl.waitUntil("hostB destroys its partial copy", Duration.ofSeconds(30),
                () -> !Ctl.domains(pair.b.addr()).containsKey("k2") && ProcessPair.dirs(pair.b).isEmpty(),
                () -> ProcessPair.tail(pair.b.log()));

        pair.a.restart();
        pair.assertExactlyOneCopy("k2", pair.a);
        assertNotEquals("OUTCOME_SUCCEEDED", outcome(id), "hostA's history after the restart");
        long c1 = Ctl.inspect(pair.a.addr(), "k2").get("workloadCounter").getAsLong();
        Thread.sleep(300);
        assertTrue(Ctl.inspect(pair.a.addr(), "k2").get("workloadCounter").getAsLong() > c1, "the guest runs on hostA");
    }

    /** SIGKILL the source when it sends Go; Go reaches the destination, which commits. */
    @Test
    void sourceKilledRightAfterGoAndRestarted() throws Exception {
        createAbGuest("k3");
        pair.proxy.arm(CutProxy.at(Dir.TO_DESTINATION, "GO", Cut.AFTER), pair.a::kill);
        String id = Ctl.startDetached("migrate", "k3", "--to", "hostB", "--daemon", pair.a.addr(), "--detach", "--format", "json");
        pair.proxy.awaitCut(60);
        assertFalse(pair.a.alive());
        String sourceHash = pair.a.hashes(id).get("source");
        assertNotNull(sourceHash, "hostA printed its memory hash at the pause:\n" + ProcessPair.tail(pair.a.log()));

        pair.a.restart(); // its journal says COMMITTING: in doubt, asks hostB
        Ctl.waitUntil("hostA resolves " + id, Duration.ofSeconds(60), () -> outcome(id).startsWith("OUTCOME_"),
                () -> ProcessPair.tail(pair.a.log()));
        assertEquals("OUTCOME_SUCCEEDED", outcome(id));
        pair.assertExactlyOneCopy("k3", pair.b);
        assertEquals(sourceHash, pair.b.hashes(id).get("destination"), "hostB's memory = hostA's at the pause");
        JsonObject moved = Ctl.inspect(pair.b.addr(), "k3");
        assertTrue(moved.get("abOk").getAsBoolean(), moved.toString());
    }

    /** SIGKILL the source when it sends Go, and Go is lost: the destination never commits; the source resumes. */
    @Test
    void sourceKilledAtGoWithGoLostAndRestarted() throws Exception {
        createAbGuest("k4");
        pair.proxy.arm(CutProxy.at(Dir.TO_DESTINATION, "GO", Cut.BEFORE), pair.a::kill);
        String id = Ctl.startDetached("migrate", "k4", "--to", "hostB", "--daemon", pair.a.addr(), "--detach", "--format", "json");
        pair.proxy.awaitCut(60);
        assertFalse(pair.a.alive());
        Ctl.waitUntil("hostB destroys the copy it never got Go for", Duration.ofSeconds(30),
                () -> !Ctl.domains(pair.b.addr()).containsKey("k4") && ProcessPair.dirs(pair.b).isEmpty(),
                () -> ProcessPair.tail(pair.b.log()));

        pair.a.restart();
        Ctl.waitUntil("hostA resolves " + id, Duration.ofSeconds(60), () -> outcome(id).startsWith("OUTCOME_"),
                () -> ProcessPair.tail(pair.a.log()));
        assertNotEquals("OUTCOME_SUCCEEDED", outcome(id));
        pair.assertExactlyOneCopy("k4", pair.a);
        JsonObject back = Ctl.inspect(pair.a.addr(), "k4");
        assertTrue(back.get("abOk").getAsBoolean(), back.toString());
    }
}
