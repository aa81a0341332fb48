package dev.migrationd.faults;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.migrationd.control.cli.MigrationCtl;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine;

/**
 * {@code migrationctl}, the operator's client, run inside the runner's JVM against a host's control API
 * ({@code --daemon unix:SOCKET --format json}, the socket under the suite's base directory). Every call has the CLI's own deadline (30 s); the runner never
 * calls a daemon it has stopped.
 *
 * <p>Thread-safe: each call builds its own command line and channel.
 */
final class Ctl {

    private Ctl() {
    }

    record Result(int code, String out, String err) {
        List<JsonObject> json() {
            List<JsonObject> l = new ArrayList<>();
            for (String line : out.lines().toList()) {
                if (line.startsWith("{")) {
                    l.add(JsonParser.parseString(line).getAsJsonObject());
                }
            }
            return l;
        }

        @Override
        public String toString() {
            return "exit " + code + (out.isBlank() ? "" : " out: " + out.strip()) + (err.isBlank() ? "" : " err: " + err.strip());
        }
    }

    static Result run(Host h, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--daemon", h.control(), "--format", "json"));
        CommandLine cl = MigrationCtl.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(all.toArray(String[]::new));
        return new Result(code, out.toString(), err.toString());
    }

    static Result ok(Host h, String... args) {
        Result r = run(h, args);
        if (r.code() != 0) {
            throw new ScenarioFailure("migrationctl " + String.join(" ", args) + " on " + h.name + ": " + r);
        }
        return r;
    }

    /** The host's domains by name. */
    static Map<String, JsonObject> domains(Host h) {
        Map<String, JsonObject> m = new LinkedHashMap<>();
        for (JsonObject o : ok(h, "domains").json()) {
            m.put(o.get("name").getAsString(), o);
        }
        return m;
    }

    /** The migration as the host knows it (live or from its history), or empty. */
    static Optional<JsonObject> status(Host h, String id) {
        Result r = run(h, "status", id);
        return r.code() == 0 && !r.json().isEmpty() ? Optional.of(r.json().getLast()) : Optional.empty();
    }

    /** The outcome (OUTCOME_SUCCEEDED ...) once the migration has ended on that host, else empty. */
    static Optional<String> outcome(JsonObject m) {
        if (!m.has("result")) {
            return Optional.empty();
        }
        String o = m.getAsJsonObject("result").get("outcome").getAsString();
        return o.equals("OUTCOME_UNSPECIFIED") ? Optional.empty() : Optional.of(o);
    }

    static String phase(JsonObject m) {
        return m.has("phase") ? m.get("phase").getAsString() : "?";
    }

    static void createGuest(Host h, String name, String memory, String dirtyRate) {
        ok(h, "domain", "create", name, "--memory", memory, "--vcpus", "1", "--dirty-rate", dirtyRate,
                "--working-set", "100%", "--pattern", "ab");
    }

    /** Starts a migration, detached; its id. */
    static String migrate(Host source, String domain, String destination, String... options) {
        List<String> args = new ArrayList<>(List.of("migrate", domain, "--to", destination, "--detach"));
        args.addAll(List.of(options));
        Result r = ok(source, args.toArray(String[]::new));
        return r.json().getFirst().getAsJsonObject("migration").get("id").getAsString();
    }

    static JsonObject inspect(Host h, String domain) {
        return ok(h, "domain", "inspect", domain).json().getLast();
    }
}
