package dev.migrationd.daemon.control;

import dev.migrationd.control.v1.MigrationEvent;
import dev.migrationd.control.v1.PhaseEvent;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Keeps each recent migration's events (phase changes, rounds, result) so that WatchMigration can replay
 * what happened before the client attached and then follow live, with one sequence per migration.
 *
 * <p>Threading: the engine calls the observer methods on each migration's own thread; watchers attach
 * from gRPC threads. All state is guarded by {@code this}; subscribers are called with the lock held so
 * that one migration's events reach every watcher once and in order (the calls are quick: they queue
 * a message in gRPC).
 */
final class EventHub implements MigrationObserver {

    /** Events kept per migration; the first {@link #KEEP_HEAD} are kept, then the most recent. */
    static final int MAX_EVENTS_PER_MIGRATION = 2048;
    static final int KEEP_HEAD = 16;
    /** Finished migrations whose events are kept; older ones are answered from the engine's history. */
    static final int MAX_FINISHED_FEEDS = 64;

    private final Clock clock;
    private final Map<String, Feed> feeds = new LinkedHashMap<>();

    EventHub(Clock clock) {
        this.clock = clock;
    }

    /** One migration's events and its watchers. Guarded by the hub's lock. */
    private static final class Feed {
        final List<MigrationEvent> head = new ArrayList<>();
        final Deque<MigrationEvent> tail = new ArrayDeque<>();
        final List<Consumer<MigrationEvent>> watchers = new ArrayList<>();
        long nextSequence;
        boolean finished;
        long finishedOrder;
    }

    private long finishCounter;

    @Override
    public void phaseChanged(MigrationInfo migration, MigrationPhase from, MigrationPhase to) {
        publish(migration.id(), MigrationEvent.newBuilder().setPhase(
                PhaseEvent.newBuilder().setPhase(ProtoMapping.phase(to)).setDetail(ProtoMapping.detail(to))), false);
    }

    @Override
    public void roundCompleted(MigrationInfo migration, RoundStats stats) {
        publish(migration.id(), MigrationEvent.newBuilder().setRound(ProtoMapping.round(stats)), false);
    }

    @Override
    public void finished(MigrationInfo migration, MigrationResult result) {
        publish(migration.id(), MigrationEvent.newBuilder()
                .setResult(ProtoMapping.result(migration.direction(), result)), true);
    }

    private synchronized void publish(String id, MigrationEvent.Builder event, boolean last) {
        Feed f = feeds.computeIfAbsent(id, k -> new Feed());
        if (f.finished) {
            return;
        }
        MigrationEvent e = event.setMigrationId(id).setSequence(f.nextSequence++)
                .setAt(ProtoMapping.timestamp(clock.instant())).build();
        if (f.head.size() < KEEP_HEAD) {
            f.head.add(e);
        } else {
            f.tail.addLast(e);
            if (f.tail.size() > MAX_EVENTS_PER_MIGRATION - KEEP_HEAD) {
                f.tail.removeFirst();
            }
        }
        for (Consumer<MigrationEvent> w : List.copyOf(f.watchers)) {
            w.accept(e);
        }
        if (last) {
            f.finished = true;
            f.finishedOrder = finishCounter++;
            f.watchers.clear();
            evictFinished();
        }
    }

    private void evictFinished() {
        long finished = feeds.values().stream().filter(f -> f.finished).count();
        var it = feeds.entrySet().iterator();
        while (finished > MAX_FINISHED_FEEDS && it.hasNext()) {
            if (it.next().getValue().finished) {
                it.remove();
                finished--;
            }
        }
    }

    /**
     * Replays a migration's kept events to {@code watcher} and, unless it has finished, subscribes it.
     *
     * @param ifUnknown the first event to record when the hub has none yet (a migration that has not
     *                  changed phase since it started); its sequence is assigned here
     * @return false when the hub knows nothing of the migration and {@code ifUnknown} is empty
     */
    synchronized boolean attach(String id, Optional<MigrationEvent.Builder> ifUnknown, Consumer<MigrationEvent> watcher) {
        Feed f = feeds.get(id);
        if (f == null) {
            if (ifUnknown.isEmpty()) {
                return false;
            }
            f = new Feed();
            feeds.put(id, f);
            MigrationEvent e = ifUnknown.get().setMigrationId(id).setSequence(f.nextSequence++)
                    .setAt(ProtoMapping.timestamp(clock.instant())).build();
            f.head.add(e);
        }
        f.head.forEach(watcher);
        f.tail.forEach(watcher);
        if (!f.finished) {
            f.watchers.add(watcher);
        }
        return true;
    }

    /** Stops delivering to {@code watcher} (the client went away). */
    synchronized void detach(String id, Consumer<MigrationEvent> watcher) {
        Feed f = feeds.get(id);
        if (f != null) {
            f.watchers.remove(watcher);
        }
    }

    /** Number of watchers attached to a migration (for tests and logs). */
    synchronized int watchers(String id) {
        Feed f = feeds.get(id);
        return f == null ? 0 : f.watchers.size();
    }
}
