package dev.migrationd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.daemon.CliCapture;
import dev.migrationd.daemon.TwoDaemons;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * migrationctl against two real daemons (gRPC, peer transport, sim backend): text and JSON output,
 * exit codes, idempotent start, watch to the end, cancel, save/restore, errors. The tests share the
 * daemons and run in order (a domain moves hostA → hostB → hostA).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CliAgainstDaemonsTest {

    @TempDir
    static Path dir;
    static TwoDaemons daemons;

    record Result(int code, String out, String err) {
        List<String> lines() {
            return out.lines().toList();
        }
    }

    @BeforeAll
    static void start() throws Exception {
        daemons = new TwoDaemons(dir);
    }

    @AfterAll
    static void stop() {
        if (daemons != null) {
            daemons.close();
        }
    }

    static Result ctl(String... args) {
        CliCapture.Output o = CliCapture.run(args);
        return new Result(o.code(), o.out(), o.err());
    }

    static Result ok(String... args) {
        Result r = ctl(args);
        assertEquals(0, r.code(), "migrationctl " + String.join(" ", args) + "\nout: " + r.out() + "\nerr: " + r.err());
        return r;
    }

    static JsonObject json(String line) {
        return JsonParser.parseString(line).getAsJsonObject();
    }

    /** Round numbers of the progress lines, in print order. */
    static List<Integer> rounds(String out) {
        List<Integer> r = new ArrayList<>();
        Matcher m = Pattern.compile("^round +(\\d+) ", Pattern.MULTILINE).matcher(out);
        while (m.find()) {
            r.add(Integer.parseInt(m.group(1)));
        }
        return r;
    }

    static boolean hasDomain(String addr, String name) {
        return ok("domains", "--daemon", addr, "--format", "json").lines().stream()
                .anyMatch(l -> json(l).get("name").getAsString().equals(name));
    }

    @Test
    @Order(1)
    void createAndListDomains() {
        Result r = ok("domain", "create", "dom7", "--daemon", daemons.aAddr(), "--memory", "64MiB", "--vcpus", "2",
                "--type", "hvm", "--dirty-rate", "8MiB/s", "--working-set", "25%", "--pattern", "ab");
        assertTrue(r.out().contains("dom7") && r.out().contains("64.0 MiB"), r.out());
        Result again = ctl("domain", "create", "dom7", "--daemon", daemons.aAddr(), "--memory", "64MiB");
        assertEquals(ExitCode.REFUSED, again.code());
        assertTrue(again.err().contains("already exists") && again.err().contains("dom7"), again.err());
        Result text = ok("domains", "--daemon", daemons.aAddr());
        assertTrue(text.out().startsWith("host hostA (backend sim)"), text.out());
        JsonObject d = json(ok("domains", "--daemon", daemons.aAddr(), "--format", "json").lines().getFirst());
        assertEquals("dom7", d.get("name").getAsString());
        assertEquals(64L << 20, d.get("memoryBytes").getAsLong());
        assertEquals("DOMAIN_STATE_RUNNING", d.get("state").getAsString());
    }

    @Test
    @Order(2)
    void migrateShowsForwardOnlyProgressAndEndsOnTheDestination() {
        Result r = ok("migrate", "dom7", "--to", "hostB", "--daemon", daemons.aAddr(), "--max-downtime", "300ms");
        List<Integer> rounds = rounds(r.out());
        assertFalse(rounds.isEmpty(), r.out());
        for (int i = 1; i < rounds.size(); i++) {
            assertTrue(rounds.get(i) > rounds.get(i - 1), "progress went backwards: " + rounds);
        }
        assertTrue(r.out().contains(": SUCCEEDED"), r.out());
        assertTrue(r.out().contains("downtime"), r.out());
        assertTrue(hasDomain(daemons.bAddr(), "dom7"));
        assertFalse(hasDomain(daemons.aAddr(), "dom7"));
        Result inspect = ok("domain", "inspect", "dom7", "--daemon", daemons.bAddr());
        assertTrue(inspect.out().contains("a-b check         ok"), inspect.out());
    }

    @Test
    @Order(3)
    void migrateJsonIsOneObjectPerLine() {
        Result r = ok("migrate", "dom7", "--to", "hostA", "--daemon", daemons.bAddr(), "--format", "json");
        List<JsonObject> objs = r.lines().stream().map(CliAgainstDaemonsTest::json).toList();
        assertTrue(objs.getFirst().get("created").getAsBoolean());
        String id = objs.getFirst().getAsJsonObject("migration").get("id").getAsString();
        assertTrue(objs.stream().anyMatch(o -> o.has("round")), "round events");
        JsonObject last = objs.getLast();
        assertEquals(id, last.get("id").getAsString());
        assertEquals("OUTCOME_SUCCEEDED", last.getAsJsonObject("result").get("outcome").getAsString());
        JsonObject status = json(ok("status", id, "--daemon", daemons.bAddr(), "--format", "json").out().strip());
        assertEquals("PHASE_SUCCEEDED", status.get("phase").getAsString());
        assertTrue(ok("status", id, "--daemon", daemons.bAddr()).out().contains("phase      SUCCEEDED"));
        assertTrue(ok("list", "--daemon", daemons.bAddr()).out().contains(id));
        assertTrue(ok("list", "--daemon", daemons.aAddr()).out().contains(id), "the destination keeps it too");
    }

    @Test
    @Order(4)
    void retriedStartWithTheSameKeyDoesNotStartASecondMigration() {
        Result first = ok("migrate", "dom7", "--to", "hostB", "--daemon", daemons.aAddr(), "--detach", "--idempotency-key", "demo-key-1");
        Result second = ok("migrate", "dom7", "--to", "hostB", "--daemon", daemons.aAddr(), "--detach", "--idempotency-key", "demo-key-1");
        String id = first.out().replaceAll("(?s).*migration (\\S+):.*", "$1");
        assertTrue(first.out().startsWith("started migration " + id), first.out());
        assertTrue(second.out().startsWith("already started (same idempotency key) migration " + id), second.out());
        Result watch = ok("watch", id, "--daemon", daemons.aAddr());
        assertTrue(watch.out().contains(": SUCCEEDED"), watch.out());
        long withKey = ok("list", "--daemon", daemons.aAddr(), "--format", "json").lines().stream()
                .filter(l -> "demo-key-1".equals(json(l).get("idempotencyKey").getAsString())).count();
        assertEquals(1, withKey, "one migration for the key");
        assertTrue(hasDomain(daemons.bAddr(), "dom7"));
    }

    @Test
    @Order(5)
    void cancelKeepsTheDomainOnTheSource() {
        ok("domain", "create", "dom8", "--daemon", daemons.aAddr(), "--memory", "256MiB", "--dirty-rate", "200MiB/s",
                "--working-set", "100%", "--pattern", "random");
        // capped at 4 MiB/s, round 0 takes a minute: it is still pre-copying when the cancel arrives
        Result started = ok("migrate", "dom8", "--to", "hostB", "--daemon", daemons.aAddr(), "--detach",
                "--bandwidth", "4MiB/s", "--max-rounds", "10000", "--timeout", "5m");
        String id = started.out().replaceAll("(?s).*migration (\\S+):.*", "$1");
        Result cancel = ok("cancel", id, "--daemon", daemons.aAddr());
        assertTrue(cancel.out().contains("migration " + id + ": "), cancel.out());
        Result watch = ctl("watch", id, "--daemon", daemons.aAddr());
        assertEquals(ExitCode.CANCELLED, watch.code(), watch.out() + watch.err());
        assertTrue(watch.out().contains(": CANCELLED"), watch.out());
        assertTrue(hasDomain(daemons.aAddr(), "dom8"));
        assertFalse(hasDomain(daemons.bAddr(), "dom8"));
    }

    @Test
    @Order(6)
    void saveAndRestore() throws Exception {
        Path file = dir.resolve("dom8.save");
        Result save = ok("save", "dom8", file.toString(), "--daemon", daemons.aAddr(), "--keep-running");
        // an operation the CLI follows: its id first, its phases, the summary, then what became of the guest
        Matcher started = Pattern.compile("^started save ([0-9a-f-]{36}): dom8 hostA -> " + Pattern.quote(file.toString()) + "$",
                Pattern.MULTILINE).matcher(save.out());
        assertTrue(started.find(), save.out());
        assertTrue(save.out().contains("phase STOP_AND_COPY") && save.out().contains("phase COMMITTING"), save.out());
        assertTrue(save.out().contains("save " + started.group(1) + " dom8 hostA -> " + file + ": SUCCEEDED"), save.out());
        assertTrue(save.out().strip().endsWith("saved dom8 to " + file + "; the domain keeps running"), save.out());
        assertTrue(Files.size(file) > 0);
        Result status = ok("status", started.group(1), "--daemon", daemons.aAddr());
        assertTrue(status.out().contains("(save)") && status.out().contains("SUCCEEDED"), status.out());
        Result listed = ok("list", "--daemon", daemons.aAddr());
        assertTrue(listed.out().lines().anyMatch(l -> l.startsWith(started.group(1)) && l.contains("save")), listed.out());
        Result again = ctl("save", "dom8", file.toString(), "--daemon", daemons.aAddr(), "--keep-running");
        assertEquals(ExitCode.REFUSED, again.code(), "no overwrite without --force: " + again.err());
        Result twin = ctl("restore", file.toString(), "--name", "dom9", "--paused", "--daemon", daemons.aAddr());
        assertEquals(ExitCode.REFUSED, twin.code(), "dom8 still runs with the saved UUID: " + twin.err());
        assertTrue(twin.err().contains("--new-uuid"), twin.err());
        assertFalse(hasDomain(daemons.aAddr(), "dom9"));
        Result restore = ok("restore", file.toString(), "--name", "dom9", "--paused", "--new-uuid", "--daemon", daemons.aAddr());
        assertTrue(restore.out().startsWith("started restore "), restore.out());
        assertTrue(restore.out().contains(": SUCCEEDED"), restore.out());
        assertTrue(restore.out().lines().anyMatch(l -> l.startsWith("dom9 ") && l.contains("paused")), restore.out());
        ok("domain", "destroy", "dom9", "--daemon", daemons.aAddr());
        ok("domain", "destroy", "dom8", "--daemon", daemons.aAddr());
        assertFalse(hasDomain(daemons.aAddr(), "dom9"));
    }

    @Test
    @Order(7)
    void errorsHaveExitCodesAndOneLine() {
        Result unknown = ctl("status", "no-such-id", "--daemon", daemons.aAddr());
        assertEquals(ExitCode.REFUSED, unknown.code());
        assertTrue(unknown.err().startsWith("migrationctl: not found: no migration with id no-such-id"), unknown.err());
        Result noDomain = ctl("migrate", "ghost", "--to", "hostB", "--daemon", daemons.aAddr());
        assertEquals(ExitCode.REFUSED, noDomain.code());
        assertTrue(noDomain.err().contains("ghost"), noDomain.err());
        Result noPeer = ctl("migrate", "dom7", "--to", "hostZ", "--daemon", daemons.bAddr());
        assertEquals(ExitCode.REFUSED, noPeer.code());
        assertTrue(noPeer.err().contains("hostZ"), noPeer.err());
        Result tiny = ctl("migrate", "dom7", "--to", "hostA", "--daemon", daemons.bAddr(), "--max-downtime", "10us");
        assertEquals(ExitCode.REFUSED, tiny.code());
        assertTrue(tiny.err().contains("invalid argument: options.max_downtime"), tiny.err());
        Result unit = ctl("migrate", "dom7", "--to", "hostA", "--daemon", daemons.bAddr(), "--bandwidth", "1GiB");
        assertEquals(ExitCode.USAGE, unit.code());
        assertTrue(unit.err().contains("a rate needs '/s'"), unit.err());
        Result down = ctl("list", "--daemon", "127.0.0.1:1");
        assertEquals(ExitCode.UNREACHABLE, down.code());
        assertTrue(down.err().contains("cannot reach the daemon at 127.0.0.1:1"), down.err());
        assertEquals(1, down.err().strip().lines().count(), down.err());
    }
}
