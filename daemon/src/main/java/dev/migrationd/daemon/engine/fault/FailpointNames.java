package dev.migrationd.daemon.engine.fault;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Every failpoint the daemon passes ({@link Failpoints#hit}), by name: the one list a fault suite
 * enumerates and docs/handover.md §10 describes. A name armed in {@value Failpoints#ENV} that is not here
 * would never fire; {@link #unknown} finds such names so the daemon can refuse them at start.
 *
 * <p>Journal failpoints come in two kinds: for every append ({@code journal.append.*}), and for appends of
 * one state ({@code journal.before-force.<STATE>}, {@code journal.after-force.<STATE>}, STATE one of
 * {@link #JOURNAL_STATES}), so that a test can crash, say, right after COMMITTING is durable.
 */
public final class FailpointNames {

    // ---- the journal ---------------------------------------------------------------------------------
    /** A record is written (in the page cache) but not forced to disk. */
    public static final String JOURNAL_APPEND_BEFORE_FORCE = "journal.append.before-force";
    /** A record is forced to disk; the caller has not heard so yet. */
    public static final String JOURNAL_APPEND_AFTER_FORCE = "journal.append.after-force";
    /** Prefix of {@code journal.before-force.<STATE>}: as {@link #JOURNAL_APPEND_BEFORE_FORCE}, for one state. */
    public static final String JOURNAL_BEFORE_FORCE_PREFIX = "journal.before-force.";
    /** Prefix of {@code journal.after-force.<STATE>}: as {@link #JOURNAL_APPEND_AFTER_FORCE}, for one state. */
    public static final String JOURNAL_AFTER_FORCE_PREFIX = "journal.after-force.";
    /** Compaction: the new file is written and forced; the old one is still in place. */
    public static final String JOURNAL_COMPACT_BEFORE_RENAME = "journal.compact.before-rename";
    /** Compaction: the new file has replaced the old one; the directory is not forced yet. */
    public static final String JOURNAL_COMPACT_AFTER_RENAME = "journal.compact.after-rename";
    /**
     * The journal's states ({@code Journal.State}, checked equal by a test): the per-state failpoints'
     * suffixes.
     */
    public static final List<String> JOURNAL_STATES = List.of("STARTED", "PAUSING", "ACCEPTED", "COMMITTING",
            "COMMITTED", "DONE", "FAILED", "CANCELLED", "ABORTED");

    // ---- the source ----------------------------------------------------------------------------------
    /** PAUSING is durable; the guest is not paused yet. */
    public static final String SOURCE_BEFORE_PAUSE = "handover.source.before-pause";
    /** Received heard; COMMITTING not journaled yet. */
    public static final String SOURCE_AFTER_RECEIVED = "handover.source.after-received";
    /** COMMITTING is durable; Go is not sent. */
    public static final String SOURCE_BEFORE_GO = "handover.source.before-go";
    /** Go is handed to the connection; Running not awaited yet. */
    public static final String SOURCE_AFTER_GO = "handover.source.after-go";
    /** Running heard; the source copy is not destroyed yet. */
    public static final String SOURCE_AFTER_RUNNING = "handover.source.after-running";
    /** The source copy is destroyed; DONE not journaled yet. */
    public static final String SOURCE_AFTER_DESTROY = "handover.source.after-destroy";
    /** In doubt: about to send a Query. */
    public static final String SOURCE_BEFORE_QUERY = "handover.source.before-query";

    // ---- the destination -----------------------------------------------------------------------------
    /** The domain is complete and paused; Received not sent yet. */
    public static final String DEST_BEFORE_RECEIVED = "handover.dest.before-received";
    /** Go read; COMMITTED not journaled yet. */
    public static final String DEST_AFTER_GO_RECEIVED = "handover.dest.after-go-received";
    /** COMMITTED is durable; the guest is not unpaused yet. */
    public static final String DEST_BEFORE_UNPAUSE = "handover.dest.before-unpause";
    /** The guest runs; Running not sent yet. */
    public static final String DEST_BEFORE_RUNNING = "handover.dest.before-running";
    /** A Query is decided; the answer is not sent yet. */
    public static final String DEST_BEFORE_QUERY_ANSWER = "handover.dest.before-query-answer";

    private FailpointNames() {
    }

    /** {@code journal.before-force.<state>}. */
    public static String journalBeforeForce(String state) {
        return JOURNAL_BEFORE_FORCE_PREFIX + state;
    }

    /** {@code journal.after-force.<state>}. */
    public static String journalAfterForce(String state) {
        return JOURNAL_AFTER_FORCE_PREFIX + state;
    }

    /** Every failpoint name, the per-state ones spelled out, sorted. */
    public static List<String> all() {
        List<String> out = new ArrayList<>(List.of(JOURNAL_APPEND_BEFORE_FORCE, JOURNAL_APPEND_AFTER_FORCE,
                JOURNAL_COMPACT_BEFORE_RENAME, JOURNAL_COMPACT_AFTER_RENAME, SOURCE_BEFORE_PAUSE, SOURCE_AFTER_RECEIVED,
                SOURCE_BEFORE_GO, SOURCE_AFTER_GO, SOURCE_AFTER_RUNNING, SOURCE_AFTER_DESTROY, SOURCE_BEFORE_QUERY,
                DEST_BEFORE_RECEIVED, DEST_AFTER_GO_RECEIVED, DEST_BEFORE_UNPAUSE, DEST_BEFORE_RUNNING,
                DEST_BEFORE_QUERY_ANSWER));
        for (String s : JOURNAL_STATES) {
            out.add(journalBeforeForce(s));
            out.add(journalAfterForce(s));
        }
        return List.copyOf(new TreeSet<>(out));
    }

    /** The names in {@code armed} that no code passes, sorted. */
    public static Set<String> unknown(Collection<String> armed) {
        Set<String> out = new TreeSet<>(armed);
        out.removeAll(all());
        return out;
    }
}
