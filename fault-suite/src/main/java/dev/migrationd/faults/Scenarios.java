package dev.migrationd.faults;

import com.google.gson.JsonObject;
import dev.migrationd.faults.FaultProxy.Verdict;
import dev.migrationd.faults.ScenarioRun.Owner;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The scenarios, in the order they run. See docs/fault-suite.md for the list with what each expects.
 *
 * <ul>
 *   <li>{@code cut-*}, {@code kill-src-*}, {@code kill-dst-*}, {@code stop-src-*}, {@code stop-dst-*},
 *       {@code full-src-*}, {@code full-dst-*}: one fault at each hand-over {@link Step};</li>
 *   <li>{@code cancel-*}: a cancel racing each step;</li>
 *   <li>{@code net-*}: nftables in the destination's namespace (drop, reset after N bytes);</li>
 *   <li>{@code proxy-*}: what only the proxy can do (corrupt a byte, cut after exactly N bytes, hold a
 *       message, a slow link);</li>
 *   <li>{@code eio-*}: a state directory that fails with EIO;</li>
 *   <li>{@code fp-*}: the daemon's failpoints (crash before/after a journal record is forced, hang);</li>
 *   <li>{@code both-*}: both daemons killed and restarted at once at the worst moments;</li>
 *   <li>{@code lost-journal-*}: a destination that lost its journal, where the outcome is undecidable.</li>
 * </ul>
 */
final class Scenarios {

    private Scenarios() {
    }

    /** The matrix's faults. */
    enum Fault {
        CUT("cut", "reset the connection (RST both ways), the frame lost", null),
        KILL_SOURCE("kill-src", "SIGKILL the source, restart it 1 s later", true),
        KILL_DESTINATION("kill-dst", "SIGKILL the destination, restart it 1 s later", false),
        STOP_SOURCE("stop-src", "SIGSTOP the source for " + ScenarioRun.STALL.toSeconds() + " s (beyond every timeout)", true),
        STOP_DESTINATION("stop-dst", "SIGSTOP the destination for " + ScenarioRun.STALL.toSeconds() + " s (beyond every timeout)", false),
        DISK_SOURCE("full-src", "the source's state directory full (ENOSPC), then freed and both daemons restarted", true),
        DISK_DESTINATION("full-dst", "the destination's state directory full (ENOSPC), then freed and both daemons restarted", false);

        final String prefix;
        final String what;
        final Boolean source;

        Fault(String prefix, String what, Boolean source) {
            this.prefix = prefix;
            this.what = what;
            this.source = source;
        }
    }

    /** Every scenario; the quick ones first, those that stall beyond the daemon's 60 s timeouts last. */
    static List<Scenario> all() {
        List<Scenario> l = new ArrayList<>();
        for (Fault f : List.of(Fault.CUT, Fault.KILL_SOURCE, Fault.KILL_DESTINATION, Fault.DISK_SOURCE, Fault.DISK_DESTINATION)) {
            for (Step s : Step.values()) {
                l.add(matrix(f, s));
            }
        }
        for (Step s : Step.values()) {
            l.add(cancel(s));
        }
        l.addAll(lostJournal());
        l.addAll(bothRestart());
        l.addAll(failpoints());
        l.addAll(eio());
        l.addAll(proxy());
        l.addAll(network());
        for (Fault f : List.of(Fault.STOP_SOURCE, Fault.STOP_DESTINATION)) {
            for (Step s : Step.values()) {
                l.add(matrix(f, s));
            }
        }
        List<Scenario> slow = l.stream().filter(Scenarios::stalls).toList();
        l.removeAll(slow);
        l.addAll(slow);
        return l;
    }

    /**
     * What CI runs ({@code bin/fault-suite --ci}, the {@code faults} stage of {@code bin/test}): one scenario
     * or more of every kind of fault, chosen where the hand-over is most fragile (at and around Go), within
     * a budget of about 10-12 minutes on a 2-core machine. Known-failing scenarios ({@link #KNOWN_FAILING})
     * are left out of it and named when it runs.
     */
    static final List<String> CI = List.of(
            "cut-received", "cut-go", "cut-running",                 // connection cut
            "kill-src-go", "kill-dst-received",                      // SIGKILL either side
            "full-dst-go",                                           // ENOSPC on the state directory
            "eio-fsync-dst-go",                                      // EIO
            "cancel-received",                                       // cancel racing a step
            "fp-dst-crash-after-go-received", "fp-src-crash-after-running", // crash failpoints around the commit
            "both-restart-go",                                       // both daemons at once
            "proxy-corrupt-go",                                      // a corrupted frame
            "net-reset-after-bytes",                                 // nftables: reset after N bytes
            "net-drop-go",                                           // nftables: a black hole
            "stop-dst-go");                                          // SIGSTOP beyond every timeout

    /**
     * Scenarios that fail today because of a product defect, each with the defect. They still run when
     * selected (by name, glob or with everything): a failure is reported as KNOWN and counted apart, and
     * does not fail the run; a pass is reported loudly, so that the entry is removed.
     */
    static final java.util.Map<String, String> KNOWN_FAILING = knownFailing();

    private static java.util.Map<String, String> knownFailing() {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        return java.util.Collections.unmodifiableMap(m);
    }

    private static boolean stalls(Scenario s) {
        return s.name().startsWith("stop-") || s.name().startsWith("net-drop-") || s.name().contains("-hang-");
    }

    // ---- expected owners ------------------------------------------------------------------------------

    /**
     * Where the guest must end for a matrix fault at a step (docs/handover.md §5): before the commit point on
     * the source; once the destination has had Go (and could journal COMMITTED) on the destination. EITHER
     * where the product may legitimately go both ways (a stalled peer that comes back in time to finish).
     */
    static Owner expected(Fault f, Step s) {
        return switch (f) {
            case CUT -> s == Step.RUNNING ? Owner.B : Owner.A;
            case KILL_SOURCE -> s == Step.GO || s == Step.RUNNING ? Owner.B : Owner.A;
            case KILL_DESTINATION -> s == Step.RUNNING ? Owner.B : Owner.A;
            case STOP_SOURCE -> s == Step.GO || s == Step.RUNNING ? Owner.B : Owner.A;
            // the source has no write timeout: a destination stopped while the stream flows holds the
            // source's send until it continues, and the migration may then finish
            case STOP_DESTINATION -> switch (s) {
                case OFFER -> Owner.A;
                case ACCEPT, PRECOPY, FLUSH, FINAL -> Owner.EITHER;
                // Go reaches the stopped destination's socket; when it continues, its wait for Go has
                // expired too: reading Go first (commit) and timing out first (abort, NOT_COMMITTED to
                // the source's query) both leave one copy, and which comes first is a race
                case RECEIVED, GO -> Owner.EITHER;
                case RUNNING -> Owner.B;
            };
            case DISK_SOURCE -> s == Step.GO || s == Step.RUNNING ? Owner.B : Owner.A;
            case DISK_DESTINATION -> s == Step.RUNNING ? Owner.B : Owner.A;
        };
    }

    private static Scenario matrix(Fault f, Step s) {
        Owner expected = expected(f, s);
        String name = f.prefix + "-" + s.label;
        String description = "at " + s.label + ": " + f.what + "; expect the guest on " + owner(expected);
        return new Scenario(name, description, r -> {
            Host victim = f.source == null ? null : f.source ? r.a : r.b;
            switch (f) {
                case CUT -> r.at(s, "reset the connection", fr -> FaultProxy.RESET);
                case KILL_SOURCE, KILL_DESTINATION -> r.at(s, "SIGKILL " + victim.name, fr -> {
                    victim.kill();
                    return FaultProxy.FORWARD;
                });
                case STOP_SOURCE, STOP_DESTINATION -> r.at(s, "SIGSTOP " + victim.name, fr -> {
                    victim.stop();
                    return FaultProxy.FORWARD;
                });
                case DISK_SOURCE, DISK_DESTINATION -> r.at(s, victim.name + "'s state directory full", fr -> {
                    victim.diskMode("enospc");
                    return FaultProxy.FORWARD;
                });
            }
            r.migrate();
            r.awaitFault();
            switch (f) {
                case KILL_SOURCE, KILL_DESTINATION -> {
                    Thread.sleep(ScenarioRun.RESTART_DELAY.toMillis());
                    victim.start();
                }
                case STOP_SOURCE, STOP_DESTINATION -> {
                    ScenarioRun.sleepUntil(r.faultAt() + ScenarioRun.STALL.toNanos());
                    victim.cont();
                }
                case DISK_SOURCE, DISK_DESTINATION -> freeDiskAndRestart(r, victim);
                case CUT -> {
                }
            }
            r.resolve(expected);
            r.checkCopies();
        });
    }

    /**
     * Keeps the disk failing until the source's migration has ended (or 60 s), frees it, then restarts both
     * daemons cleanly: what recovery makes of the journals the failure left must not change the outcome.
     */
    private static void freeDiskAndRestart(ScenarioRun r, Host victim) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<JsonObject> st = r.sourceStatus();
            if (st.isPresent() && Ctl.outcome(st.get()).isPresent()) {
                r.noteDowntime(st.get()); // the restart below forgets it
                break;
            }
            Thread.sleep(200);
        }
        victim.diskMode("ok");
        r.a.term();
        r.b.term();
        r.startBoth();
    }

    private static String owner(Owner o) {
        return switch (o) {
            case A -> "the source";
            case B -> "the destination";
            case EITHER -> "exactly one host";
        };
    }

    // ---- cancel racing each step --------------------------------------------------------------------

    private static Scenario cancel(Step s) {
        Owner expected = switch (s) {
            case GO, RUNNING -> Owner.B;
            case RECEIVED -> Owner.EITHER;
            default -> Owner.A;
        };
        return new Scenario("cancel-" + s.label, "migrationctl cancel on the source as " + s.label
                + " passes (the frame goes on: they race); expect the guest on " + owner(expected)
                + " and the cancel's answer to agree", r -> {
            r.at(s, "cancel", fr -> r.cancelAsync());
            r.migrate();
            r.awaitFault();
            String answer = r.awaitCancel();
            Owner o = r.resolve(expected);
            boolean cancelled = answer.contains("CANCEL_RESULT_CANCELLED");
            boolean late = answer.contains("CANCEL_RESULT_COMPLETED_FIRST");
            if (cancelled && o != Owner.A || late && o != Owner.B || !cancelled && !late && !answer.contains("CANCEL_RESULT_FAILED_FIRST")) {
                throw new ScenarioFailure("the cancel answered " + answer + " but the guest runs on " + (o == Owner.A ? "hostA" : "hostB"));
            }
            r.checkCopies();
        });
    }

    // ---- nftables --------------------------------------------------------------------------------------

    private static List<Scenario> network() {
        List<Scenario> l = new ArrayList<>();
        l.add(new Scenario("net-drop-precopy", "nftables drops every peer packet of the destination from pre-copy on, for "
                + ScenarioRun.STALL.toSeconds() + " s (no FIN, no RST: a black hole); expect exactly one copy", r -> {
            networkHold(r, Step.PRECOPY, Owner.EITHER);
        }));
        l.add(new Scenario("net-drop-go", "nftables drops every peer packet of the destination just before Go reaches it, for "
                + ScenarioRun.STALL.toSeconds() + " s; the source is in doubt and cannot ask; expect the guest on the source", r -> {
            networkHold(r, Step.GO, Owner.A);
        }));
        l.add(new Scenario("net-reset-after-bytes", "nftables in the destination's namespace answers every inbound peer packet with a "
                + "TCP reset once 24 MiB have passed, the guest having written all of its 64 MiB once (the source's side is reset, the destination hears nothing more); expect the guest "
                + "on the source and the destination's partial copy gone after its idle timeout", r -> {
            r.at(Step.OFFER, "arm the nftables reset quota", fr -> {
                Lab.resetPeerTrafficAfter(Lab.NS_B, Host.PEER_PORT, 24L << 20);
                return FaultProxy.FORWARD;
            });
            r.awaitFullPass();
            r.migrate();
            r.awaitFault();
            r.resolve(Owner.A);
            r.checkCopies();
        }));
        return l;
    }

    private static void networkHold(ScenarioRun r, Step s, Owner expected) throws Exception {
        r.at(s, "drop the destination's peer traffic", fr -> {
            Lab.dropPeerTraffic(Lab.NS_B, Host.PEER_PORT);
            return FaultProxy.FORWARD;
        });
        r.migrate();
        r.awaitFault();
        ScenarioRun.sleepUntil(r.faultAt() + ScenarioRun.STALL.toNanos());
        Lab.clearRules(Lab.NS_B);
        r.hold(r.faultAt(), "peer traffic dropped");
        r.timeline.mark("peer traffic flows again");
        r.resolve(expected);
        r.checkCopies();
    }

    // ---- the proxy's own faults ---------------------------------------------------------------------------

    private static List<Scenario> proxy() {
        List<Scenario> l = new ArrayList<>();
        l.add(new Scenario("proxy-corrupt-frame-type", "one byte flipped: the type octet of a stream frame in pre-copy (a framing "
                + "violation); expect the guest on the source", r -> {
            r.at(Step.PRECOPY, "corrupt the frame type", fr -> new Verdict.Corrupt(0));
            r.migrate();
            r.awaitFault();
            r.resolve(Owner.A);
            r.checkCopies();
        }));
        l.add(new Scenario("proxy-corrupt-go", "one byte flipped inside the Go message's migration id; a Go for another migration "
                + "must not commit this one; expect the guest on the source", r -> {
            r.at(Step.GO, "corrupt the Go envelope", fr -> new Verdict.Corrupt(fr.length() + 5 - 3));
            r.migrate();
            r.awaitFault();
            r.resolve(Owner.A);
            r.checkCopies();
        }));
        l.add(new Scenario("proxy-cut-after-bytes", "the connection reset after exactly 24 MiB of stream, the guest having written all of its memory once; expect the guest on the source", r -> {
            r.at(FaultProxy.streamBytes(24L << 20), "reset after 24 MiB", fr -> FaultProxy.RESET);
            r.awaitFullPass();
            r.migrate();
            r.awaitFault();
            r.resolve(Owner.A);
            r.checkCopies();
        }));
        l.add(new Scenario("proxy-hold-received", "Received held 3 s on its way to the source (the guest is paused meanwhile); "
                + "expect the guest on the destination and a reported downtime that includes the 3 s", r -> {
            r.at(Step.RECEIVED, "hold Received 3 s", fr -> new Verdict.Hold(3000));
            r.migrate();
            r.awaitFault();
            r.resolve(Owner.B);
            r.checkCopies();
        }));
        l.add(new Scenario("proxy-slow-link", "every frame delayed 20 ms both ways; expect the guest on the destination", r -> {
            r.delayEveryFrame(20);
            r.at(Step.OFFER, "slow link from the offer on", fr -> FaultProxy.FORWARD);
            r.migrate();
            r.awaitFault();
            r.resolve(Owner.B);
            r.checkCopies();
        }));
        return l;
    }

    // ---- EIO -----------------------------------------------------------------------------------------

    private static List<Scenario> eio() {
        List<Scenario> l = new ArrayList<>();
        l.add(eio("eio-dst-offer", Step.OFFER, false, "eio", Owner.A, "the destination's state directory fails every write with EIO as the offer arrives"));
        l.add(eio("eio-src-received", Step.RECEIVED, true, "eio", Owner.A, "the source's state directory fails every write with EIO as Received arrives (COMMITTING cannot be written)"));
        l.add(eio("eio-fsync-dst-go", Step.GO, false, "eio-fsync", Owner.A, "the destination's fsync fails with EIO as Go arrives: COMMITTED reaches the file, the daemon is told it did not"));
        return l;
    }

    private static Scenario eio(String name, Step s, boolean source, String mode, Owner expected, String what) {
        return new Scenario(name, what + "; then freed and both daemons restarted; expect the guest on " + owner(expected), r -> {
            Host victim = source ? r.a : r.b;
            r.at(s, victim.name + " disk " + mode, fr -> {
                victim.diskMode(mode);
                return FaultProxy.FORWARD;
            });
            r.migrate();
            r.awaitFault();
            freeDiskAndRestart(r, victim);
            r.resolve(expected);
            r.checkCopies();
        });
    }

    // ---- failpoints -------------------------------------------------------------------------------------

    private static List<Scenario> failpoints() {
        List<Scenario> l = new ArrayList<>();
        l.add(crash("fp-src-crash-before-force", true, "journal.append.before-force", Owner.A,
                "the source crashes with its first journal record written but not forced (STARTED)"));
        l.add(crash("fp-dst-crash-before-force", false, "journal.append.before-force", Owner.A,
                "the destination crashes with its first record written but not forced (ACCEPTED)"));
        l.add(crash("fp-src-crash-after-committing", true, "journal.after-force.COMMITTING", Owner.A,
                "the source crashes right after COMMITTING is durable, before Go"));
        l.add(crash("fp-dst-crash-after-committed", false, "journal.after-force.COMMITTED", Owner.B,
                "the destination crashes right after COMMITTED is durable, before it unpauses"));
        l.add(crash("fp-src-crash-after-done", true, "journal.after-force.DONE", Owner.B,
                "the source crashes right after DONE is durable"));
        l.add(crash("fp-dst-crash-after-go-received", false, "handover.dest.after-go-received", Owner.A,
                "the destination crashes after reading Go, before journaling COMMITTED"));
        l.add(crash("fp-src-crash-after-running", true, "handover.source.after-running", Owner.B,
                "the source crashes after hearing Running, before destroying its copy"));
        l.add(new Scenario("fp-src-hang-before-go", "the source's migration hangs after COMMITTING, before Go; the destination gives up; "
                + "the hung source is killed and restarted; expect the guest on the source", "handover.source.before-go=hang", "", r -> {
            r.migrate();
            r.awaitHit(r.a, "handover.source.before-go", ScenarioRun.FAULT_TIMEOUT);
            long hit = r.faultAt();
            waitEnded(r, r.b, ScenarioRun.STALL.plusSeconds(30));
            r.a.kill();
            r.hold(hit, "hostA's migration hung before Go");
            r.a.failpoints("");
            r.a.start();
            r.resolve(Owner.A);
            r.checkCopies();
        }));
        l.add(new Scenario("fp-dst-hang-before-unpause", "the destination hangs after COMMITTED, before unpausing; the source resolves "
                + "its doubt; the hung destination is killed and restarted; expect the guest on the destination", "",
                "handover.dest.before-unpause=hang", r -> {
            r.migrate();
            r.awaitHit(r.b, "handover.dest.before-unpause", ScenarioRun.FAULT_TIMEOUT);
            long hit = r.faultAt();
            waitEnded(r, r.a, ScenarioRun.STALL.plusSeconds(60));
            r.b.kill();
            r.hold(hit, "hostB hung before unpausing");
            r.b.failpoints("");
            r.b.start();
            r.resolve(Owner.B);
            r.checkCopies();
        }));
        l.add(new Scenario("fp-dst-sleep-before-unpause", "the destination sleeps 3 s after COMMITTED, before unpausing; expect the "
                + "guest on the destination and a reported downtime that includes the 3 s", "", "handover.dest.before-unpause=sleep:3000", r -> {
            r.migrate();
            r.awaitHit(r.b, "handover.dest.before-unpause", ScenarioRun.FAULT_TIMEOUT);
            r.resolve(Owner.B);
            r.checkCopies();
        }));
        l.add(new Scenario("fp-dst-error-after-committed", "the destination is told its durable COMMITTED failed (an error right after "
                + "the force); then both daemons restart; expect exactly one copy, the same before and after the restart", "",
                "journal.after-force.COMMITTED=error", r -> {
            r.migrate();
            r.awaitHit(r.b, "journal.after-force.COMMITTED", ScenarioRun.FAULT_TIMEOUT);
            Owner before = r.resolve(Owner.EITHER);
            r.a.term();
            r.b.term();
            r.b.failpoints("");
            r.startBoth();
            r.resolve(before);
            r.checkCopies();
        }));
        l.add(compaction("fp-dst-crash-compact-before-rename", "journal.compact.before-rename"));
        l.add(compaction("fp-dst-crash-compact-after-rename", "journal.compact.after-rename"));
        return l;
    }

    private static Scenario crash(String name, boolean source, String failpoint, Owner expected, String what) {
        String spec = failpoint + "=crash";
        return new Scenario(name, what + "; restarted 1 s later; expect the guest on " + owner(expected),
                source ? spec : "", source ? "" : spec, r -> {
            Host victim = source ? r.a : r.b;
            try {
                r.migrate();
            } catch (ScenarioFailure e) {
                r.notes.add("the start failed as the source crashed: " + e.getMessage());
            }
            r.awaitCrash(victim, failpoint, ScenarioRun.FAULT_TIMEOUT);
            Thread.sleep(ScenarioRun.RESTART_DELAY.toMillis());
            victim.failpoints("");
            victim.start();
            r.resolve(expected);
            r.checkCopies();
        });
    }

    /** Waits until {@code h} has ended the scenario's migration (its status has an outcome). */
    private static void waitEnded(ScenarioRun r, Host h, Duration timeout) throws InterruptedException {
        ScenarioRun.waitFor(h.name + " ends migration " + r.id(), timeout, () -> {
            Optional<JsonObject> st = Ctl.status(h, r.id());
            return st.isPresent() && Ctl.outcome(st.get()).isPresent();
        });
    }

    /**
     * A successful migration, then the destination restarted with a compaction failpoint armed (the journal
     * is compacted when it is opened: the migration's superseded records are due); it must crash there, start again without it, and still
     * answer COMMITTED for the migration: a crash at any point of a compaction leaves the old or the new
     * journal, never neither.
     */
    private static Scenario compaction(String name, String failpoint) {
        return new Scenario(name, "after a migration to the destination, its daemon restarts and crashes in journal compaction ("
                + failpoint + "); restarted again it must still answer COMMITTED for the migration", r -> {
            String id = r.migrate();
            r.resolve(Owner.B);
            r.b.term();
            r.b.failpoints(failpoint + "=crash");
            try {
                r.b.start();
            } catch (IllegalStateException e) {
                r.notes.add("hostB's start with the failpoint: " + e.getMessage().lines().findFirst().orElse(""));
            }
            if (!r.b.failpointHit(failpoint)) {
                throw new ScenarioFailure("failpoint " + failpoint + " on hostB was never hit while its journal was opened; the "
                        + "daemon never logged event=failpoint_hit name=" + failpoint + " (no compaction ran at start)");
            }
            r.faultNow("hostB crashed in compaction");
            r.b.kill();
            r.b.failpoints("");
            r.b.start();
            String answer = PeerQuery.ask(Lab.IP_B, Host.PEER_PORT, id);
            if (!answer.equals("RESOLUTION_COMMITTED")) {
                throw new ScenarioFailure("after the crash in compaction hostB answers " + answer + " for " + id + ", not COMMITTED");
            }
            r.resolve(Owner.B);
            r.checkCopies();
        });
    }

    // ---- both daemons ------------------------------------------------------------------------------------

    private static List<Scenario> bothRestart() {
        List<Scenario> l = new ArrayList<>();
        l.add(both("both-restart-received", Step.RECEIVED, Owner.A, "as Received passes (the source never hears it)"));
        l.add(both("both-restart-go", Step.GO, Owner.A, "as Go passes (the destination never gets it)"));
        l.add(both("both-restart-running", Step.RUNNING, Owner.B, "as Running passes (the destination has committed and unpaused)"));
        l.add(new Scenario("both-restart-committed", "the destination crashes right after COMMITTED is durable and the source is killed "
                + "at the same moment; both restart together; expect the guest on the destination", "",
                "journal.after-force.COMMITTED=crash", r -> {
            r.migrate();
            r.awaitCrash(r.b, "journal.after-force.COMMITTED", ScenarioRun.FAULT_TIMEOUT);
            r.a.kill();
            Thread.sleep(ScenarioRun.RESTART_DELAY.toMillis());
            r.b.failpoints("");
            r.startBoth();
            r.resolve(Owner.B);
            r.checkCopies();
        }));
        return l;
    }

    private static Scenario both(String name, Step s, Owner expected, String when) {
        return new Scenario(name, "both daemons SIGKILLed " + when + ", restarted together 1 s later; expect the guest on "
                + owner(expected), r -> {
            r.at(s, "SIGKILL both", fr -> {
                r.b.kill();
                r.a.kill();
                return FaultProxy.RESET;
            });
            r.migrate();
            r.awaitFault();
            Thread.sleep(ScenarioRun.RESTART_DELAY.toMillis());
            r.startBoth();
            r.resolve(expected);
            r.checkCopies();
        });
    }

    // ---- a destination that lost its journal --------------------------------------------------------------

    private static List<Scenario> lostJournal() {
        List<Scenario> l = new ArrayList<>();
        l.add(new Scenario("lost-journal-after-commit", "the source dies after sending Go; the destination commits and runs the guest, "
                + "then loses its journal and restarts; the source restarts in doubt and hears UNKNOWN: it must keep its copy paused "
                + "and raise the alert, and the operator confirms the destination; expect the guest on the destination only", r -> {
            r.at(Step.GO, "SIGKILL hostA after it sent Go", fr -> {
                r.a.kill();
                return FaultProxy.FORWARD;
            });
            r.migrate();
            r.awaitFault();
            ScenarioRun.waitFor("hostB runs the guest", Duration.ofSeconds(30), () -> {
                JsonObject d = Ctl.domains(r.b).get(ScenarioRun.DOMAIN);
                return d != null && d.get("state").getAsString().equals("DOMAIN_STATE_RUNNING") && !d.get("migrating").getAsBoolean();
            });
            r.b.kill();
            r.b.loseJournal();
            r.b.start();
            r.a.start();
            expectUndecided(r);
            operator(r, "--confirm-destination");
            r.resolve(Owner.B);
            r.checkCopies();
        }));
        l.add(new Scenario("lost-journal-before-go", "the source dies as it sends Go and Go is lost; the destination destroys its copy, "
                + "then loses its journal and restarts; the source restarts in doubt and hears UNKNOWN: it must keep its copy paused "
                + "and raise the alert, and the operator resumes the source; expect the guest on the source", r -> {
            r.at(Step.GO, "SIGKILL hostA, Go lost", fr -> {
                r.a.kill();
                return FaultProxy.RESET;
            });
            r.migrate();
            r.awaitFault();
            ScenarioRun.waitFor("hostB destroys the copy it never got Go for", Duration.ofSeconds(30),
                    () -> !Ctl.domains(r.b).containsKey(ScenarioRun.DOMAIN));
            r.b.kill();
            r.b.loseJournal();
            r.b.start();
            r.a.start();
            long undecidedFrom = System.nanoTime();
            expectUndecided(r);
            operator(r, "--resume-source");
            r.hold(undecidedFrom, "undecidable: the guest paused until the operator decides");
            r.resolve(Owner.A);
            r.checkCopies();
        }));
        return l;
    }

    /**
     * The source, told UNKNOWN, must keep its copy paused, stay in doubt and raise the alert (the in-doubt
     * gauge); checked after three in-doubt retry intervals, so an answer has surely been heard.
     */
    private static void expectUndecided(ScenarioRun r) throws Exception {
        Thread.sleep(Config.IN_DOUBT_RETRY.multipliedBy(3).plusSeconds(2).toMillis());
        JsonObject d = Ctl.domains(r.a).get(ScenarioRun.DOMAIN);
        String phase = Ctl.status(r.a, r.id()).map(Ctl::phase).orElse("unknown to hostA");
        if (d == null) {
            throw new ScenarioFailure("hostA destroyed its copy on an UNKNOWN answer (phase " + phase + ")");
        }
        if (!d.get("state").getAsString().equals("DOMAIN_STATE_PAUSED")) {
            throw new ScenarioFailure("hostA resumed its copy on an UNKNOWN answer (domain " + d.get("state").getAsString()
                    + ", migration " + phase + "): the outcome is undecidable and the source must keep the guest paused for an operator");
        }
        if (!phase.equals("PHASE_IN_DOUBT")) {
            throw new ScenarioFailure("hostA's migration is " + phase + ", not PHASE_IN_DOUBT, while its copy is paused");
        }
        double gauge = inDoubtGauge(r.a);
        if (gauge < 1) {
            throw new ScenarioFailure("hostA's copy is paused in doubt but migrationd_migrations_in_doubt is " + gauge + ": no alert");
        }
        r.notes.add("undecided: hostA paused, in doubt, migrationd_migrations_in_doubt " + gauge);
    }

    private static double inDoubtGauge(Host h) throws IOException, InterruptedException {
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            String body = c.send(HttpRequest.newBuilder(URI.create("http://" + h.ip + ":" + Host.METRICS_PORT + "/metrics"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
            double v = 0;
            for (String line : body.lines().toList()) {
                if (line.startsWith("migrationd_migrations_in_doubt")) {
                    v += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
            return v;
        }
    }

    /** The operator's decision: {@code migrationctl resolve ID --resume-source|--confirm-destination} on hostA. */
    private static void operator(ScenarioRun r, String decision) {
        Ctl.Result res = Ctl.run(r.a, "resolve", r.id(), decision);
        r.timeline.mark("operator: migrationctl resolve " + decision + " -> exit " + res.code());
        if (res.code() != 0) {
            throw new ScenarioFailure("migrationctl resolve " + r.id() + " " + decision + " failed: " + res);
        }
    }
}
