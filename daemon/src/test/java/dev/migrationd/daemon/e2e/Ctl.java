package dev.migrationd.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.migrationd.daemon.CliCapture;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * migrationctl, the user's client, run in the test JVM against the daemon processes (its exit code is
 * what {@code bin/migrationctl} exits with), plus the checks the end-to-end tests share.
 */
final class Ctl {

    private Ctl() {
    }

    record Result(int code, String out, String err) {
        List<JsonObject> json() {
            return out.lines().filter(l -> l.startsWith("{")).map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
        }

        JsonObject last() {
            return json().getLast();
        }

        @Override
        public String toString() {
            return "exit " + code + "\nout: " + out + "\nerr: " + err;
        }
    }

    static Result run(String... args) {
        CliCapture.Output o = CliCapture.run(args);
        return new Result(o.code(), o.out(), o.err());
    }

    static Result ok(String... args) {
        Result r = run(args);
        assertEquals(0, r.code(), () -> "migrationctl " + String.join(" ", args) + "\n" + r);
        return r;
    }

    /** The daemon's domains by name (JSON objects of {@code migrationctl domains --format json}). */
    static Map<String, JsonObject> domains(String addr) {
        return ok("domains", "--daemon", addr, "--format", "json").json().stream()
                .collect(Collectors.toMap(o -> o.get("name").getAsString(), o -> o));
    }

    static Optional<String> state(String addr, String domain) {
        return Optional.ofNullable(domains(addr).get(domain)).map(o -> o.get("state").getAsString());
    }

    static JsonObject inspect(String addr, String domain) {
        return ok("domain", "inspect", domain, "--daemon", addr, "--format", "json").last();
    }

    static JsonObject status(String addr, String id) {
        return ok("status", id, "--daemon", addr, "--format", "json").last();
    }

    /** The migration id of a {@code migrate --detach --format json} start. */
    static String startDetached(String... args) {
        Result r = ok(args);
        return r.json().getFirst().getAsJsonObject("migration").get("id").getAsString();
    }

    static void waitUntil(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeout.toSeconds() + "s: " + what);
            }
            Thread.sleep(100);
        }
    }

    static void waitUntil(String what, Duration timeout, BooleanSupplier condition, Supplier<String> detail)
            throws InterruptedException {
        try {
            waitUntil(what, timeout, condition);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + detail.get(), e);
        }
    }

    /** Waits until the migration is in a phase (e.g. PHASE_PRECOPY) on the daemon at {@code addr}. */
    static void waitForPhase(String addr, String id, String phase) throws InterruptedException {
        waitUntil(id + " in " + phase, Duration.ofSeconds(60), () -> status(addr, id).get("phase").getAsString().equals(phase),
                () -> status(addr, id).toString());
    }
}
