package dev.migrationd.daemon.engine.fault;

import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Named failpoints for the fault suite, in the manner of FreeBSD's {@code fail(9)} and etcd's gofail:
 * code calls {@link #hit(String)} at a place worth breaking ("crash after this record is written but
 * before it is forced"), and a test decides, per process, what happens there.
 *
 * <p>Enabled only by the environment variable {@value #ENV}, read once when this class loads, as a
 * comma-separated list of {@code name=action} pairs:
 * <ul>
 *   <li>{@code crash}: the process halts at once with exit status {@value #CRASH_STATUS}, running no
 *       shutdown hook and flushing nothing, as a SIGKILL or a power cut would leave it;</li>
 *   <li>{@code hang}: the calling thread parks for ever (the rest of the process goes on);</li>
 *   <li>{@code error}: {@link #hit} throws an {@link IOException} naming the failpoint;</li>
 *   <li>{@code sleep:MILLIS}: the calling thread sleeps that long, then goes on.</li>
 * </ul>
 * Without the variable every {@link #hit} is a read of one final field. An unknown action, a name that
 * is not in {@link FailpointNames#all()} or a malformed list stops the daemon at start with a message
 * naming the problem: a fault test that silently injects nothing would pass for the wrong reason.
 *
 * <p>This is a process-wide table on purpose: a failpoint stands for a place in the code, and the
 * process is what a fault test kills. It is immutable after class initialisation, so any thread may
 * call {@link #hit}.
 */
public final class Failpoints {

    private static final Logger LOG = LoggerFactory.getLogger(Failpoints.class);

    /** The environment variable that enables failpoints (test use only). */
    public static final String ENV = "MIGRATIOND_FAILPOINTS";
    /** Exit status of a {@code crash} action (128 + SIGKILL, as a shell reports a killed process). */
    public static final int CRASH_STATUS = 137;
    /** Longest sleep a {@code sleep:} action may ask for (one hour). */
    static final long MAX_SLEEP_MILLIS = TimeUnit.HOURS.toMillis(1);

    private static final Map<String, Action> ACTIVE = parse(System.getenv(ENV));

    private Failpoints() {}

    /** What a failpoint does when hit. */
    public sealed interface Action {
        /** Halt the process at once. */
        record Crash() implements Action {}
        /** Park the calling thread for ever. */
        record Hang() implements Action {}
        /** Throw an {@link IOException}. */
        record Error() implements Action {}
        /** Sleep, then go on. */
        record Sleep(long millis) implements Action {}
    }

    /**
     * Passes the failpoint {@code name}: does nothing unless the test environment armed it.
     *
     * @throws IOException when the failpoint is armed with {@code error}
     */
    public static void hit(String name) throws IOException {
        if (ACTIVE.isEmpty()) {
            return;
        }
        Action action = ACTIVE.get(name);
        if (action == null) {
            return;
        }
        LOG.warn("event=failpoint_hit name={} action={}", name, action);
        switch (action) {
            case Action.Crash c -> Runtime.getRuntime().halt(CRASH_STATUS);
            case Action.Hang h -> {
                while (true) {
                    LockSupport.park(Failpoints.class);
                }
            }
            case Action.Error e -> throw new IOException("failpoint " + name + ": injected error");
            case Action.Sleep s -> {
                try {
                    Thread.sleep(s.millis());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** The failpoints armed in this process, by name (empty in production). */
    public static Map<String, Action> armed() {
        return ACTIVE;
    }

    /**
     * Parses a {@value #ENV} value.
     *
     * @throws IllegalArgumentException naming the malformed entry
     */
    static Map<String, Action> parse(String spec) {
        if (spec == null || spec.isBlank()) {
            return Map.of();
        }
        Map<String, Action> out = new TreeMap<>();
        for (String entry : spec.split(",")) {
            String e = entry.strip();
            if (e.isEmpty()) {
                continue;
            }
            int eq = e.indexOf('=');
            if (eq <= 0 || eq == e.length() - 1) {
                throw new IllegalArgumentException(ENV + ": '" + e + "' is not name=action");
            }
            String name = e.substring(0, eq).strip();
            String action = e.substring(eq + 1).strip().toLowerCase(Locale.ROOT);
            out.put(name, parseAction(name, action));
        }
        java.util.Set<String> unknown = FailpointNames.unknown(out.keySet());
        if (!unknown.isEmpty()) {
            // a misspelt name would never fire, and the fault it stands for would silently not happen
            throw new IllegalArgumentException(ENV + ": unknown failpoint" + (unknown.size() > 1 ? "s " : " ")
                    + String.join(", ", unknown) + " (known: " + String.join(", ", FailpointNames.all()) + ")");
        }
        return Map.copyOf(out);
    }

    private static Action parseAction(String name, String action) {
        switch (action) {
            case "crash":
                return new Action.Crash();
            case "hang":
                return new Action.Hang();
            case "error":
                return new Action.Error();
            default:
                if (action.startsWith("sleep:")) {
                    long ms;
                    try {
                        ms = Long.parseLong(action.substring("sleep:".length()));
                    } catch (NumberFormatException nfe) {
                        ms = -1;
                    }
                    if (ms < 0 || ms > MAX_SLEEP_MILLIS) {
                        throw new IllegalArgumentException(ENV + ": failpoint " + name + ": '" + action
                                + "' needs sleep:MILLIS with MILLIS in 0.." + MAX_SLEEP_MILLIS);
                    }
                    return new Action.Sleep(ms);
                }
                throw new IllegalArgumentException(ENV + ": failpoint " + name + ": unknown action '" + action
                        + "' (crash, hang, error, sleep:MILLIS)");
        }
    }
}
