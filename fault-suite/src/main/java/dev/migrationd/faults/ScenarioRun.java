package dev.migrationd.faults;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * One scenario's world and the steps scenarios are written with: two fresh hosts (hostA the source, hostB
 * the destination, reached through the {@link FaultProxy}), a 64 MiB {@code ab} guest on hostA watched by
 * the {@link CopyChecker}, a migration, the fault, and the checks of the end state.
 *
 * <p>Threading: the runner thread drives it; fault actions run on a proxy pump thread and touch only
 * the hosts (whose process control is synchronized), the disk mode files and {@link #cancelResult}.
 */
final class ScenarioRun implements AutoCloseable {

    static final String DOMAIN = "g";
    static final int MEMORY_MIB = 64;
    static final String MEMORY = MEMORY_MIB + "MiB";
    static final String DIRTY_RATE = "16MiB/s";
    /** Stream bytes after which a fault "at pre-copy" acts: a quarter of round 0. */
    static final long PRECOPY_MARK = 16L << 20;
    static final int PROXY_PORT = 7201;
    /**
     * A stall "beyond every timeout": the daemons' longest wait for a peer (the handshake and idle timeouts
     * the lab gives them, {@link Config}) plus 5 s.
     */
    static final Duration STALL = max(Config.HANDSHAKE_TIMEOUT, Config.IDLE_TIMEOUT).plusSeconds(5);
    /** How long a killed daemon stays dead before the scenario starts it again. */
    static final Duration RESTART_DELAY = Duration.ofSeconds(1);
    /** Longest wait for the end state once the last fault has been released. */
    static final Duration RESOLVE_TIMEOUT = Duration.ofSeconds(100);
    /** Longest wait for the guest's first full pass over its memory (64 MiB at 16 MiB/s: 4 s). */
    static final Duration FULL_PASS_TIMEOUT = Duration.ofSeconds(40);
    /** Longest wait for a fault's step to come. */
    static final Duration FAULT_TIMEOUT = Duration.ofSeconds(60);
    /** How long after the migration ended a failpoint may still be hit (a restart's or clean-up's records). */
    static final Duration FAILPOINT_GRACE = Duration.ofSeconds(3);
    /** How long the checker keeps watching once the end state is reached. */
    static final Duration SETTLED_WATCH = Duration.ofMillis(600);
    /** What a state directory may hold once everything is settled. */
    static final List<String> ALLOWED_STATE_ENTRIES = List.of("migrations.journal", "sim");

    enum Owner { A, B, EITHER }

    final Scenario scenario;
    final Path dir;
    final Timeline timeline = new Timeline();
    final Host a;
    final Host b;
    final List<String> notes = new ArrayList<>();
    private FaultProxy proxy;
    private CopyChecker checker;
    private CopyChecker.Seen seen;
    private volatile String id;
    private final CountDownLatch idKnown = new CountDownLatch(1);
    /** The result of a cancel a fault action started; set by that thread. */
    final AtomicReference<Ctl.Result> cancelResult = new AtomicReference<>();
    private final CountDownLatch cancelDone = new CountDownLatch(1);
    private long faultAt = -1;
    private long resolvedAt = -1;
    private String owner;

    ScenarioRun(Scenario scenario, Path dir) {
        this.scenario = scenario;
        this.dir = dir;
        a = new Host("hostA", Lab.NS_A, Lab.IP_A, dir, List.of("hostB=" + Lab.IP_ROOT + ":" + PROXY_PORT), timeline);
        b = new Host("hostB", Lab.NS_B, Lab.IP_B, dir, List.of("hostA=" + Lab.IP_A + ":" + Host.PEER_PORT), timeline);
    }

    private static Duration max(Duration x, Duration y) {
        return x.compareTo(y) >= 0 ? x : y;
    }

    // ---- set-up ----------------------------------------------------------------------------------

    /** Mounts, starts both daemons, creates the guest on hostA and starts the checker. */
    void setUp(Path faultfsScript) throws Exception {
        Files.createDirectories(dir);
        proxy = new FaultProxy(FaultProxy.address(Lab.IP_ROOT, PROXY_PORT), FaultProxy.address(Lab.IP_B, Host.PEER_PORT), timeline);
        a.prepare(faultfsScript);
        b.prepare(faultfsScript);
        startBoth();
        Ctl.createGuest(a, DOMAIN, MEMORY, DIRTY_RATE);
        checker = new CopyChecker(DOMAIN, List.of(a, b), timeline);
        checker.start();
        long created = System.nanoTime();
        waitFor("the new guest executes on hostA", Duration.ofSeconds(20), () -> checker.lastExecuted(a) > created);
    }

    /**
     * Waits until the source's guest has written every page of its memory at least once, so that every page
     * is non-zero and round 0 sends the whole guest in full. A fresh guest's untouched pages are zero and
     * travel as allocation-only records: a fault placed "after N bytes" would otherwise never come on a
     * quiet machine, where the whole migration can be shorter than N.
     */
    void awaitFullPass() throws InterruptedException {
        long pages = (long) MEMORY_MIB << 8; // 256 pages of 4 KiB per MiB
        waitFor("the guest to write all of its " + pages + " pages once", FULL_PASS_TIMEOUT, () -> checker.counter(a) >= pages);
    }

    /** Starts both daemons at once (each on its own thread) and waits for both. */
    void startBoth() throws Exception {
        AtomicReference<Exception> failure = new AtomicReference<>();
        Thread ta = Thread.ofPlatform().start(() -> startQuietly(a, failure));
        Thread tb = Thread.ofPlatform().start(() -> startQuietly(b, failure));
        ta.join();
        tb.join();
        if (failure.get() != null) {
            throw failure.get();
        }
    }

    private static void startQuietly(Host h, AtomicReference<Exception> failure) {
        try {
            h.start();
        } catch (Exception e) {
            failure.compareAndSet(null, e);
        }
    }

    // ---- the migration and the fault ---------------------------------------------------------------

    /** Starts the migration hostA → hostB (detached); its id. */
    String migrate(String... options) {
        String i = Ctl.migrate(a, DOMAIN, "hostB", options);
        id = i;
        idKnown.countDown();
        timeline.mark("migration " + i + " started");
        return i;
    }

    String id() {
        return id;
    }

    /** Arms the proxy: at {@code step}, run {@code action}. */
    void at(Step step, String what, FaultProxy.Action action) {
        proxy.arm(new FaultProxy.Trigger(what, step.match, action));
    }

    void at(FaultProxy.Match match, String what, FaultProxy.Action action) {
        proxy.arm(new FaultProxy.Trigger(what, match, action));
    }

    void delayEveryFrame(long millis) {
        proxy.delayEveryFrame(millis);
    }

    /** Waits for the armed fault; fails naming the step when it never came. */
    void awaitFault() throws InterruptedException {
        if (!proxy.awaitFired(FAULT_TIMEOUT.toMillis())) {
            throw new ScenarioFailure("the fault's step never passed the proxy within " + FAULT_TIMEOUT.toSeconds() + " s");
        }
        faultAt = proxy.firedAt();
        if (proxy.actionError() != null) {
            throw new ScenarioFailure("the fault's action failed: " + proxy.actionError());
        }
    }

    /** Marks now as the moment the fault happened (for faults the proxy does not fire: failpoints). */
    void faultNow(String what) {
        faultAt = System.nanoTime();
        timeline.mark("fault: " + what);
    }

    long faultAt() {
        return faultAt;
    }

    /** A fault action: cancel the migration on the source, on another thread, racing the frame. */
    FaultProxy.Verdict cancelAsync() throws InterruptedException {
        if (!idKnown.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the migration id was not known within 10 s");
        }
        String i = id;
        Thread.ofPlatform().daemon().name("cancel").start(() -> {
            try {
                cancelResult.set(Ctl.run(a, "cancel", i));
            } catch (RuntimeException e) {
                cancelResult.set(new Ctl.Result(-1, "", e.toString()));
            } finally {
                cancelDone.countDown();
            }
        });
        return FaultProxy.FORWARD;
    }

    /** Waits for the cancel started by {@link #cancelAsync}; its one-word result. */
    String awaitCancel() throws InterruptedException {
        if (!cancelDone.await(60, TimeUnit.SECONDS)) {
            throw new ScenarioFailure("migrationctl cancel did not return within 60 s");
        }
        Ctl.Result r = cancelResult.get();
        String s = r.json().isEmpty() || !r.json().getLast().has("result") ? r.toString()
                : r.json().getLast().get("result").getAsString();
        notes.add("cancel " + s.replace("CANCEL_RESULT_", ""));
        return s;
    }

    /** Sleeps until {@code nanos} (System.nanoTime()). */
    static void sleepUntil(long nanos) throws InterruptedException {
        long left = nanos - System.nanoTime();
        if (left > 0) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }

    /** Waits for a daemon to exit by itself (a crash failpoint); fails saying whether the failpoint was hit. */
    void awaitCrash(Host h, String failpoint, Duration timeout) throws InterruptedException {
        waitForFailpoint(h, failpoint, timeout, () -> !h.alive(), "did not crash");
        h.noticeExit();
        faultNow(h.name + " crashed at failpoint " + failpoint + " (exit " + h.exitStatus() + ")");
        if (!h.failpointHit(failpoint)) {
            throw new ScenarioFailure(h.name + " exited " + h.exitStatus() + " but never logged event=failpoint_hit name=" + failpoint);
        }
    }

    /** Waits until a daemon logs that it hit a failpoint (hang, sleep, error). */
    void awaitHit(Host h, String failpoint, Duration timeout) throws InterruptedException {
        waitForFailpoint(h, failpoint, timeout, () -> h.failpointHit(failpoint), "was not hit");
        faultNow(h.name + " hit failpoint " + failpoint);
    }

    /**
     * Polls {@code done}; gives up after {@code timeout}, or as soon as the migration has ended on the source
     * without it (then the failpoint's place was passed and never hit: there is no point waiting longer).
     */
    private void waitForFailpoint(Host h, String failpoint, Duration timeout, BooleanSupplier done, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long endedAt = -1;
        String ended = "";
        while (!done.getAsBoolean()) {
            long now = System.nanoTime();
            if (now > deadline) {
                throw new ScenarioFailure(failpointMessage(h, failpoint, what + " within " + timeout.toSeconds() + " s"));
            }
            if (endedAt < 0 && id != null && a.state() == Host.State.UP && a.alive()) {
                Optional<JsonObject> st = Ctl.status(a, id);
                if (st.isPresent() && Ctl.outcome(st.get()).isPresent()) {
                    endedAt = now;
                    JsonObject result = st.get().getAsJsonObject("result");
                    ended = " (" + Ctl.outcome(st.get()).get()
                            + (result.has("message") ? ": " + result.get("message").getAsString() : "") + ")";
                }
            }
            if (endedAt >= 0 && now - endedAt > FAILPOINT_GRACE.toNanos()) {
                throw new ScenarioFailure(failpointMessage(h, failpoint, what + ": the migration ended" + ended + " without it"));
            }
            Thread.sleep(50);
        }
    }

    private static String failpointMessage(Host h, String failpoint, String what) {
        return "failpoint " + failpoint + " on " + h.name + " " + what + "; the daemon never logged event=failpoint_hit name="
                + failpoint + (h.log().contains("event=failpoints_armed") ? " (armed: the migration never reached the place, or no code "
                + "calls Failpoints.hit(\"" + failpoint + "\") in this build)" : " (the daemon did not report it armed)");
    }

    /** Records that from {@code from} until now the scenario held the guest by a fault that is not a process state. */
    void hold(long from, String what) {
        timeline.hold(from, System.nanoTime(), what);
    }

    // ---- waiting for the end state -----------------------------------------------------------------

    static void waitFor(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new ScenarioFailure("not within " + timeout.toSeconds() + " s: " + what);
            }
            Thread.sleep(200);
        }
    }

    /** The source's view of the migration (live or from history); empty if it does not know it. */
    Optional<JsonObject> sourceStatus() {
        return id == null || a.state() != Host.State.UP ? Optional.empty() : Ctl.status(a, id);
    }

    /**
     * Waits until the scenario has settled with exactly one running copy and nothing left behind; the owner.
     * Settled means: both daemons up; the source's migration ended; the destination has no live migration
     * for it; the domain listed on exactly one host, running and not migrating; no domain directory on the
     * other host (not even a half-built or half-destroyed one), only the domain's on the owner; and no file
     * in either state directory but the journal.
     */
    Owner resolve(Owner expected) throws Exception {
        long deadline = System.nanoTime() + RESOLVE_TIMEOUT.toNanos();
        String why = "";
        while (System.nanoTime() < deadline) {
            why = notSettled();
            if (why == null) {
                resolvedAt = System.nanoTime();
                break;
            }
            Thread.sleep(250);
        }
        if (resolvedAt < 0) {
            throw new ScenarioFailure("not settled within " + RESOLVE_TIMEOUT.toSeconds() + " s: " + why);
        }
        Owner o = owner.equals(a.name) ? Owner.A : Owner.B;
        timeline.mark("settled: the guest runs on " + owner);
        if (expected != Owner.EITHER && o != expected) {
            throw new ScenarioFailure("the guest ended on " + owner + ", expected on " + (expected == Owner.A ? a.name : b.name));
        }
        checkOutcomeMatches(o);
        return o;
    }

    private String notSettled() {
        for (Host h : List.of(a, b)) {
            h.noticeExit();
            if (h.state() != Host.State.UP) {
                return h.name + " is " + h.state();
            }
        }
        try {
            if (id != null) {
                Optional<JsonObject> src = Ctl.status(a, id);
                if (src.isPresent() && Ctl.outcome(src.get()).isEmpty()) {
                    return "the source's migration is still in " + Ctl.phase(src.get());
                }
                Optional<JsonObject> dst = Ctl.status(b, id);
                if (dst.isPresent() && Ctl.outcome(dst.get()).isEmpty()) {
                    return "the destination's migration is still in " + Ctl.phase(dst.get());
                }
            }
            Map<String, JsonObject> da = Ctl.domains(a);
            Map<String, JsonObject> db = Ctl.domains(b);
            boolean onA = da.containsKey(DOMAIN);
            boolean onB = db.containsKey(DOMAIN);
            if (onA == onB) {
                return onA ? "the domain is listed on both hosts" : "the domain is listed on neither host";
            }
            Host own = onA ? a : b;
            Host other = onA ? b : a;
            JsonObject d = (onA ? da : db).get(DOMAIN);
            if (!"DOMAIN_STATE_RUNNING".equals(d.get("state").getAsString()) || d.get("migrating").getAsBoolean()) {
                return "the domain on " + own.name + " is " + d.get("state").getAsString() + (d.get("migrating").getAsBoolean() ? ", migrating" : "");
            }
            List<String> ownDirs = own.simDomainDirs();
            List<String> otherDirs = other.simDomainDirs();
            if (!ownDirs.equals(List.of(DOMAIN))) {
                return own.name + "'s sim directory holds " + ownDirs;
            }
            if (!otherDirs.isEmpty()) {
                return other.name + "'s sim directory holds " + otherDirs;
            }
            for (Host h : List.of(a, b)) {
                List<String> stray = h.strayStateFiles(ALLOWED_STATE_ENTRIES);
                if (!stray.isEmpty()) {
                    return h.name + "'s state directory holds " + stray;
                }
            }
            owner = own.name;
            return null;
        } catch (ScenarioFailure | IOException e) {
            return e.getMessage();
        }
    }

    /** The source's reported outcome must say where the guest is: SUCCEEDED on hostB, anything else on hostA. */
    private void checkOutcomeMatches(Owner o) {
        if (id == null) {
            notes.add("no migration id (the start itself failed)");
            return;
        }
        Optional<JsonObject> src = Ctl.status(a, id);
        if (src.isEmpty()) {
            throw new ScenarioFailure("the source no longer knows migration " + id + " (history lost)");
        }
        String outcome = Ctl.outcome(src.get()).orElse("none");
        notes.add("source outcome " + outcome.replace("OUTCOME_", ""));
        boolean succeeded = outcome.equals("OUTCOME_SUCCEEDED");
        if (succeeded != (o == Owner.B)) {
            throw new ScenarioFailure("the source reports " + outcome + " but the guest runs on " + (o == Owner.A ? a.name : b.name));
        }
    }

    /**
     * The guest's memory passes the ab check (through {@code domain inspect}, which pauses the guest to
     * hash it: so only once the checker has stopped).
     */
    private void checkMemory(Host own) {
        JsonObject d = Ctl.inspect(own, DOMAIN);
        if (!d.has("abOk") || !d.get("abOk").getAsBoolean()) {
            throw new ScenarioFailure("the guest's memory fails the ab check on " + own.name + ": " + d);
        }
    }

    /**
     * The reported downtime: the larger of the source's and the destination's (zero when none was reported),
     * also counting what {@link #noteDowntime} saw before a restart (a daemon's history does not survive one).
     */
    Duration reportedDowntime() {
        Duration d = noted;
        for (Host h : List.of(a, b)) {
            if (id == null || h.state() != Host.State.UP) {
                continue;
            }
            Optional<JsonObject> s = Ctl.status(h, id);
            if (s.isPresent()) {
                Duration x = downtimeIn(s.get());
                d = x.compareTo(d) > 0 ? x : d;
            }
        }
        return d;
    }

    /** Keeps the downtime a migration status reports, for {@link #reportedDowntime} after a restart. */
    void noteDowntime(JsonObject status) {
        Duration x = downtimeIn(status);
        noted = x.compareTo(noted) > 0 ? x : noted;
    }

    private Duration noted = Duration.ZERO;

    private static Duration downtimeIn(JsonObject status) {
        Duration d = Duration.ZERO;
        if (status.has("result")) {
            JsonObject r = status.getAsJsonObject("result");
            for (String k : List.of("downtimeSource", "downtimeDestination")) {
                if (r.has(k)) {
                    Duration x = parseDuration(r.get(k).getAsString());
                    d = x.compareTo(d) > 0 ? x : d;
                }
            }
        }
        return d;
    }

    static Duration parseDuration(String s) {
        String v = s.endsWith("s") ? s.substring(0, s.length() - 1) : s;
        return Duration.ofNanos((long) (Double.parseDouble(v) * 1e9));
    }

    /**
     * Lets the checker watch the settled guest a little longer, stops it and applies its rules (two copies,
     * gaps, and the owner executing after the end state was reached); then checks the guest's memory.
     * Throws on the first violation.
     */
    void checkCopies() throws InterruptedException {
        Thread.sleep(SETTLED_WATCH.toMillis());
        Duration downtime = reportedDowntime();
        for (Host h : List.of(a, b)) {
            h.closeHold();
        }
        seen = checker.finish();
        if (seen.samples() < 10) {
            throw new ScenarioFailure("the checker took only " + seen.samples() + " samples");
        }
        if (seen.maxCopies() >= 2) {
            throw new ScenarioFailure("two running copies: " + seen.twoCopies());
        }
        String gap = CopyChecker.gapViolation(seen.gaps(), timeline.holds(), downtime, timeline);
        if (gap != null) {
            throw new ScenarioFailure(gap);
        }
        Host own = owner.equals(a.name) ? a : b;
        if (checker.lastExecuted(own) < resolvedAt) {
            throw new ScenarioFailure("the guest on " + own.name + " is listed as running but did not execute after the end state was reached");
        }
        checkMemory(own);
        notes.add("reported downtime " + downtime.toMillis() + " ms");
    }

    /** What the checker saw, finishing it if the scenario did not get that far. */
    CopyChecker.Seen seen() {
        if (seen == null && checker != null) {
            seen = checker.finish();
        }
        return seen;
    }

    /** Seconds from the fault to the settled end state, or -1. */
    double resolutionSeconds() {
        return faultAt < 0 || resolvedAt < 0 ? -1 : (resolvedAt - faultAt) / 1e9;
    }

    /** Writes the timeline, the checker's trace and notes beside the logs. */
    void writeReport(String outcome) {
        StringBuilder sb = new StringBuilder();
        sb.append("scenario ").append(scenario.name()).append(": ").append(scenario.description()).append('\n');
        sb.append("outcome: ").append(outcome).append('\n');
        sb.append("migration: ").append(id).append('\n');
        sb.append("timeline:\n").append(timeline.describe());
        CopyChecker.Seen s = seen();
        if (s != null) {
            sb.append("checker: max copies ").append(s.maxCopies()).append(", longest without a copy ")
                    .append(s.longestNoneNanos() / 1_000_000).append(" ms, samples ").append(s.samples()).append('\n');
            s.trace().forEach(t -> sb.append("  ").append(t).append('\n'));
        }
        notes.forEach(n -> sb.append("note: ").append(n).append('\n'));
        try {
            Files.writeString(dir.resolve("report.txt"), sb.toString());
        } catch (IOException e) {
            System.err.println("fault-suite: cannot write " + dir.resolve("report.txt") + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        if (checker != null) {
            checker.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        a.release();
        b.release();
        Lab.clearRules(Lab.NS_A);
        Lab.clearRules(Lab.NS_B);
    }

    static String ms(long nanos) {
        return String.format(Locale.ROOT, "%d ms", nanos / 1_000_000);
    }
}
