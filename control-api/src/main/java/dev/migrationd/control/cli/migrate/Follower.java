package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.CancelMigrationRequest;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.MigrationEvent;
import dev.migrationd.control.v1.Outcome;
import dev.migrationd.control.v1.Phase;
import dev.migrationd.control.v1.WatchMigrationRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.Iterator;

/**
 * Follows one migration for {@code migrate} and {@code watch}: prints each event once and in order (the
 * progress only moves forward, also across a re-attached stream), then the summary, and turns the
 * outcome into an exit code. Runs on the command's thread; {@link #cancel()} may be called from the
 * Ctrl-C handler's thread.
 */
public final class Follower {

    /** How often a broken watch stream is re-attached before giving up (the daemon may restart). */
    static final int MAX_REATTACH = 5;
    public static final long REATTACH_PAUSE_MILLIS = 1000;
    /** Retries of a start call when the daemon is briefly unreachable; the idempotency key makes them safe. */
    public static final int START_ATTEMPTS = 3;

    /** A start call (StartMigration, StartSave, StartRestore). */
    @FunctionalInterface
    public interface StartCall<T> {
        T call();
    }

    /** Calls {@code start}, again after a pause when the daemon was UNAVAILABLE, at most {@link #START_ATTEMPTS} times. */
    public static <T> T startWithRetries(StartCall<T> start) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                return start.call();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || attempt >= START_ATTEMPTS) {
                    throw e;
                }
                Thread.sleep(REATTACH_PAUSE_MILLIS);
            }
        }
    }

    private final Connection connection;
    private final String id;
    private final PrintWriter out;
    private final PrintWriter err;
    private final boolean json;
    /** What is followed, in words: "migration", "save", "restore". */
    private final String noun;
    /** What its going on means for the guest, said when the CLI stops following ("" for a migration). */
    private final String consequence;

    // owned by the command's thread
    private long lastSequence = -1;
    private long lastRound = -1;
    private Phase lastPhase = Phase.PHASE_UNSPECIFIED;
    private dev.migrationd.control.v1.MigrationResult result;

    Follower(Connection connection, String id, PrintWriter out, PrintWriter err, boolean json) {
        this(connection, id, out, err, json, "migration", "");
    }

    /**
     * @param noun        what is followed, for the messages: "migration", "save" or "restore" (an operation of
     *                    the daemon with a migration id)
     * @param consequence what its going on means for the guest, e.g. " (the domain is destroyed once saved)"
     */
    public Follower(Connection connection, String id, PrintWriter out, PrintWriter err, boolean json, String noun,
                    String consequence) {
        this.connection = connection;
        this.id = id;
        this.out = out;
        this.err = err;
        this.json = json;
        this.noun = noun;
        this.consequence = consequence;
    }

    /** A follower for the operation {@code m} (a migration, a save or a restore), named after its direction. */
    public static Follower of(Connection connection, Migration m, PrintWriter out, PrintWriter err, boolean json) {
        return switch (m.getDirection()) {
            case DIRECTION_SAVE -> new Follower(connection, m.getId(), out, err, json, "save",
                    " (unless it is cancelled or fails, the file is written and the domain destroyed, or resumed with --keep-running)");
            case DIRECTION_RESTORE -> new Follower(connection, m.getId(), out, err, json, "restore",
                    " (unless it is cancelled or fails, domain " + m.getDomain() + " appears once fully built)");
            default -> new Follower(connection, m.getId(), out, err, json, "migration", "");
        };
    }

    /**
     * Prints a started operation (as JSON, or {@code line}) and, unless {@code detach}, follows it to its end
     * with Ctrl-C asking what to do; returns the exit code ({@link ExitCode#OK} when detached).
     */
    public static int announceAndFollow(Connection connection, dev.migrationd.control.v1.StartMigrationResponse started,
                                        String line, boolean detach, boolean json, PrintWriter out, PrintWriter err)
            throws InterruptedException {
        out.println(json ? Render.json(started) : line);
        out.flush();
        if (detach) {
            return ExitCode.OK;
        }
        Follower follower = of(connection, started.getMigration(), out, err, json);
        Interrupts.install(follower, err);
        return follower.follow();
    }

    /** What its going on means for the guest. */
    public String consequence() {
        return consequence;
    }

    /** The id followed. */
    public String id() {
        return id;
    }

    /** What is followed, in words. */
    public String noun() {
        return noun;
    }

    /** Watches until the result, then prints the summary; returns the exit code of the outcome. */
    public int follow() throws InterruptedException {
        int failures = 0;
        while (true) {
            try {
                Iterator<MigrationEvent> events = connection.streaming()
                        .watchMigration(WatchMigrationRequest.newBuilder().setId(id).build());
                while (events.hasNext()) {
                    MigrationEvent e = events.next();
                    failures = 0;
                    print(e);
                    if (e.hasResult()) {
                        result = e.getResult();
                        return finish();
                    }
                }
                throw Status.UNAVAILABLE.withDescription("the watch stream ended before the result").asRuntimeException();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || ++failures > MAX_REATTACH) {
                    lost(e);
                    throw e;
                }
                err.println("migrationctl: lost the daemon (" + e.getStatus().getDescription() + "); re-attaching to " + id);
                err.flush();
                Thread.sleep(REATTACH_PAUSE_MILLIS);
            }
        }
    }

    /**
     * Says, before the CLI gives up, that the end is unknown here and how to learn it: the operation runs in
     * the daemon and goes on (or has ended) whatever happens to this CLI.
     */
    private void lost(StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
            err.println("migrationctl: the daemon does not know " + noun + " " + id
                    + " (it restarted and keeps no record of it?); check 'migrationctl domains'"
                    + ("save".equals(noun) ? " and whether the file exists" : ""));
        } else {
            err.println("migrationctl: stopped following " + noun + " " + id + " (last phase "
                    + Render.name(lastPhase) + "); it goes on in the daemon" + consequence + " and its outcome is NOT known here. "
                    + "Follow it with 'migrationctl watch " + id + "' or 'migrationctl status " + id + "'");
        }
        err.flush();
    }

    private void print(MigrationEvent e) {
        if (e.getSequence() <= lastSequence && lastSequence >= 0) {
            return;
        }
        lastSequence = e.getSequence();
        switch (e.getEventCase()) {
            case ROUND -> {
                if (e.getRound().getRound() <= lastRound) {
                    return;
                }
                lastRound = e.getRound().getRound();
                line(json ? Render.json(e) : Render.round(e.getRound()));
            }
            case PHASE -> {
                if (e.getPhase().getPhase() == lastPhase) {
                    return;
                }
                lastPhase = e.getPhase().getPhase();
                line(json ? Render.json(e) : "phase " + Render.name(lastPhase)
                        + (e.getPhase().getDetail().isEmpty() ? "" : ": " + e.getPhase().getDetail()));
            }
            case RESULT -> {
                if (json) {
                    line(Render.json(e));
                }
            }
            default -> {
                // a newer daemon's event kind: ignored by this client
            }
        }
    }

    /** Prints the summary: the migration's facts from the daemon, its result as the stream reported it. */
    private int finish() {
        Migration m = connection.blocking().getMigration(GetMigrationRequest.newBuilder().setId(id).build())
                .toBuilder().setResult(result).build();
        line(json ? Render.json(m) : Render.summary(m));
        return exitCode(result.getOutcome());
    }

    private void line(String s) {
        out.println(s);
        out.flush();
    }

    /** Asks the daemon to cancel (from the Ctrl-C handler); the outcome still arrives on the stream. */
    public void cancel() {
        Migration m = connection.blocking().cancelMigration(CancelMigrationRequest.newBuilder().setId(id).build()).getMigration();
        err.println("migrationctl: cancel requested; " + noun + " " + id + " is " + Render.name(m.getPhase()));
        err.flush();
    }

    static int exitCode(Outcome outcome) {
        return switch (outcome) {
            case OUTCOME_SUCCEEDED -> ExitCode.OK;
            case OUTCOME_CANCELLED -> ExitCode.CANCELLED;
            default -> ExitCode.FAILED;
        };
    }
}
