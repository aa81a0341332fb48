package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.InDoubtCase;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Every migration this engine knows: the live ones by id, the history of finished ones (newest first,
 * bounded, including those read back from the journal after a restart) with the runs behind it, which
 * migration, save, restore or exclusive action holds each domain, and the idempotency keys seen.
 *
 * <p>Threading: safe from any thread; every collection is concurrent. A run that ends moves from the live
 * map to the history in an order that lets a concurrent {@link #list()} or {@link #find} always see it
 * in one place ({@link #ended}).
 */
final class MigrationRegistry {

    private final Clock clock;
    private final int historySize;
    /** Live migrations by id. */
    private final Map<String, MigrationRun> live = new ConcurrentHashMap<>();
    /** Domain name → id of the migration (or save, restore, recovery, exclusive action) that holds it. */
    private final Map<String, String> claims = new ConcurrentHashMap<>();
    /** Idempotency key → migration id. */
    private final Map<String, String> keys = new ConcurrentHashMap<>();
    /** Finished migrations, newest first, at most {@link #historySize}. */
    private final Deque<MigrationSummary> history = new ConcurrentLinkedDeque<>();
    /** The runs behind the history entries of this engine's lifetime. */
    private final Map<String, MigrationRun> finished = new ConcurrentHashMap<>();
    /** Source migrations in doubt (live or recovered), by id: what an operator's resolve acts on. */
    private final Map<String, InDoubtCase> inDoubt = new ConcurrentHashMap<>();
    /** Destination migrations whose commit this side cannot tell (answered UNKNOWN), by id. */
    private final Set<String> undecided = ConcurrentHashMap.newKeySet();

    MigrationRegistry(Clock clock, int historySize) {
        this.clock = clock;
        this.historySize = historySize;
    }

    /**
     * Claims {@code domain} for {@code owner}.
     *
     * @throws EngineException.DomainBusyException naming the current holder, when there is one
     */
    void claim(String domain, String owner) throws EngineException.DomainBusyException {
        String holder = claims.putIfAbsent(domain, owner);
        if (holder != null) {
            throw new EngineException.DomainBusyException(domain, holder);
        }
    }

    /** Claims {@code domain} for {@code owner}; false when another holds it. */
    boolean tryClaim(String domain, String owner) {
        return claims.putIfAbsent(domain, owner) == null;
    }

    /** Gives {@code domain} to {@code owner} whoever held it (recovery, before anything else runs). */
    void hold(String domain, String owner) {
        claims.put(domain, owner);
    }

    /** Releases {@code owner}'s claim on {@code domain} (nothing happens when another holds it). */
    void release(String domain, String owner) {
        claims.remove(domain, owner);
    }

    /** Whether a live or remembered migration has this id. */
    boolean knows(String id) {
        return live.containsKey(id) || finished.containsKey(id);
    }

    /** The live migration with this id. */
    Optional<MigrationRun> live(String id) {
        return Optional.ofNullable(live.get(id));
    }

    /** The incoming migration with this id, live or among the finished runs of this engine's lifetime. */
    Optional<IncomingMigration> incomingRun(String id) {
        return find(id).filter(IncomingMigration.class::isInstance).map(IncomingMigration.class::cast);
    }

    void openInDoubt(InDoubtCase c) {
        inDoubt.put(c.info().id(), c);
    }

    void closeInDoubt(InDoubtCase c) {
        inDoubt.remove(c.info().id(), c);
    }

    /** The source migration in doubt with this id. */
    Optional<InDoubtCase> inDoubt(String id) {
        return Optional.ofNullable(inDoubt.get(id));
    }

    /** Marks a destination migration whose commit this side cannot tell. */
    void undecided(String id) {
        undecided.add(id);
    }

    boolean isUndecided(String id) {
        return undecided.contains(id);
    }

    /** Every live migration (a snapshot). */
    List<MigrationRun> liveRuns() {
        return new ArrayList<>(live.values());
    }

    /** The migration an idempotency key started, if it is still known. */
    Optional<MigrationHandle> forKey(String key) {
        String id = key == null ? null : keys.get(key);
        return id == null ? Optional.empty() : find(id);
    }

    /** Remembers {@code key} for migration {@code id} unless the key is taken; returns the id it belongs to. */
    String rememberKey(String key, String id) {
        String earlier = keys.putIfAbsent(key, id);
        return earlier == null ? id : earlier;
    }

    /**
     * Makes {@code run} live, unless its idempotency key was taken meanwhile by another start: then the run's
     * domain claim is released and the earlier migration is returned instead.
     *
     * @throws EngineException with kind ALREADY_EXISTS when the key's migration is no longer known
     */
    MigrationHandle register(MigrationRun run) throws EngineException {
        String key = run.info().idempotencyKey();
        if (key != null) {
            String owner = rememberKey(key, run.id());
            if (!owner.equals(run.id())) {
                release(run.info().domain(), run.id());
                return find(owner).orElseThrow(() -> new EngineException(EngineException.Kind.ALREADY_EXISTS,
                        "idempotency key " + key + " is in use"));
            }
        }
        add(run);
        return run;
    }

    /** Makes {@code run} live (a run without an idempotency key: incoming migrations). */
    void add(MigrationRun run) {
        live.put(run.id(), run);
    }

    /** A live or remembered migration (remembered ones from before a restart are not handles: see {@link #list()}). */
    Optional<MigrationHandle> find(String id) {
        MigrationRun r = live.get(id);
        if (r == null) {
            r = finished.get(id);
        }
        return Optional.ofNullable(r);
    }

    /** Live migrations first (newest first), then the history (newest first). */
    List<MigrationSummary> list() {
        List<MigrationSummary> out = new ArrayList<>();
        Instant now = clock.instant();
        // the live map is read before the history: a migration ending meanwhile is in one or both (see
        // ended()); where both, the history's entry (with the outcome) is the one listed
        List<MigrationRun> running = new ArrayList<>(live.values());
        List<MigrationSummary> past = new ArrayList<>(history);
        Set<String> ended = new HashSet<>();
        List<MigrationSummary> pastOnce = new ArrayList<>();
        for (MigrationSummary s : past) {
            if (ended.add(s.info().direction() + "/" + s.info().id())) {
                pastOnce.add(s);
            }
        }
        running.sort(Comparator.comparing((MigrationRun r) -> r.info().startedAt()).reversed());
        for (MigrationRun r : running) {
            if (!ended.contains(r.info().direction() + "/" + r.id())) {
                out.add(new MigrationSummary(r.info(), r.phase(), Optional.empty(), Optional.empty(), "", now));
            }
        }
        out.addAll(pastOnce);
        return out;
    }

    /**
     * Cancels a live migration, or tells how a finished one ended.
     *
     * @throws EngineException.UnknownMigrationException when no such migration is known
     */
    CancelOutcome cancel(String id) throws EngineException.UnknownMigrationException {
        MigrationRun r = live.get(id);
        if (r != null) {
            return r.cancel();
        }
        for (MigrationSummary s : history) {
            if (s.info().id().equals(id)) {
                return s.outcome().orElse(MigrationResult.Outcome.FAILED) == MigrationResult.Outcome.SUCCEEDED
                        ? CancelOutcome.COMPLETED_FIRST : CancelOutcome.FAILED_FIRST;
            }
        }
        throw new EngineException.UnknownMigrationException(id);
    }

    /** A run has ended: into the history, out of the live map, its domain released. */
    void ended(MigrationRun run, MigrationResult r) {
        // history, then finished, then out of the live map: list() and find() read the live map first, so a
        // concurrent reader finds the migration in one place or both, never in neither
        remember(new MigrationSummary(run.info(), run.phase(), Optional.of(r), Optional.of(r.outcome()), r.reason(),
                clock.instant()));
        finished.put(run.id(), run);
        live.remove(run.id(), run);
        release(run.info().domain(), run.id());
    }

    /** Adds (or replaces) a history entry, dropping the oldest beyond the history size. */
    void remember(MigrationSummary s) {
        history.removeIf(h -> h.info().id().equals(s.info().id()) && h.info().direction() == s.info().direction());
        history.addFirst(s);
        while (history.size() > historySize) {
            MigrationSummary old = history.pollLast();
            if (old != null) {
                finished.remove(old.info().id());
            }
        }
    }
}
