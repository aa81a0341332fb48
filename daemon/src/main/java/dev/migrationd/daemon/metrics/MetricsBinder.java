package dev.migrationd.daemon.metrics;

import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The one binder from the engine's {@link MigrationObserver} callbacks to Micrometer: every
 * meter comes from {@link MigrationMeter}. Every series a rule or dashboard needs is registered at start
 * with zero, so {@code increase()} and alerts see it before the first migration.
 *
 * <p>Threading: callbacks arrive on migrations' threads, concurrently. Meters are thread-safe; the
 * gauge state is in concurrent maps and atomics.
 */
public final class MetricsBinder implements MigrationObserver {

    private final MeterRegistry registry;
    /** Direction of each running migration (removed when it finishes): backs the active gauges. */
    private final Map<String, Direction> running = new ConcurrentHashMap<>();
    /** Latest-round gauge values by (meter, direction, guest type); doubles stored as raw long bits. */
    private final Map<String, AtomicLong> lastValues = new ConcurrentHashMap<>();

    /** Source migrations in doubt (live or recovered after a restart), by id: backs the in-doubt gauge. */
    private final Set<String> inDoubt = ConcurrentHashMap.newKeySet();

    /** Migration ids needing an operator, by reason: backs the needing-operator gauges. */
    private final Map<Attention, Set<String>> attention = new EnumMap<>(Attention.class);

    /** The directions these meters count: migrations; saves and restores are not migrations. */
    private static final List<Direction> MIGRATION_DIRECTIONS =
            java.util.Arrays.stream(Direction.values()).filter(Direction::migration).toList();

    public MetricsBinder(MeterRegistry registry) {
        this.registry = registry;
        for (Direction d : MIGRATION_DIRECTIONS) {
            Gauge.builder(MigrationMeter.MIGRATIONS_ACTIVE.meterName(), running,
                            m -> m.values().stream().filter(r -> r == d).count())
                    .description(MigrationMeter.MIGRATIONS_ACTIVE.description())
                    .tags(tags(MigrationMeter.MIGRATIONS_ACTIVE, word(d))).register(registry);
        }
        Gauge.builder(MigrationMeter.MIGRATIONS_IN_DOUBT.meterName(), inDoubt, Set::size)
                .description(MigrationMeter.MIGRATIONS_IN_DOUBT.description()).register(registry);
        for (Attention a : Attention.values()) {
            Set<String> ids = ConcurrentHashMap.newKeySet();
            attention.put(a, ids);
            Gauge.builder(MigrationMeter.MIGRATIONS_NEEDING_OPERATOR.meterName(), ids, Set::size)
                    .description(MigrationMeter.MIGRATIONS_NEEDING_OPERATOR.description())
                    .tags(tags(MigrationMeter.MIGRATIONS_NEEDING_OPERATOR, a.tag())).register(registry);
        }
        for (Direction d : MIGRATION_DIRECTIONS) {
            for (GuestType g : GuestType.values()) {
                for (MigrationResult.Outcome o : MigrationResult.Outcome.values()) {
                    counter(MigrationMeter.MIGRATIONS_FINISHED, word(d), word(g), word(o));
                }
                counter(MigrationMeter.MIGRATION_STREAM_BYTES, word(d), word(g));
            }
        }
    }

    @Override
    public void attention(MigrationInfo m, Attention why, boolean raised) {
        if (raised) {
            attention.get(why).add(m.id());
        } else {
            attention.get(why).remove(m.id());
        }
    }

    @Override
    public void inDoubt(MigrationInfo m, boolean open) {
        if (open) {
            inDoubt.add(m.id());
        } else {
            inDoubt.remove(m.id());
        }
    }

    @Override
    public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
        if (!m.direction().migration()) {
            return;
        }
        if (to.terminal()) {
            running.remove(m.id());
        } else {
            running.put(m.id(), m.direction());
        }
    }

    @Override
    public void roundCompleted(MigrationInfo m, RoundStats s) {
        if (!m.direction().migration()) {
            return;
        }
        String d = word(m.direction());
        String g = word(m.guestType());
        double dirtyRate = s.dirtyRate() * StreamLimits.PAGE_SIZE;
        summary(MigrationMeter.ROUND_DIRTY_PAGES, d, g).record(s.pagesDirtied());
        summary(MigrationMeter.ROUND_SENT_PAGES, d, g).record(s.pagesSent());
        summary(MigrationMeter.ROUND_SENT_BYTES, d, g).record(s.bytes());
        summary(MigrationMeter.ROUND_WIRE_BYTES, d, g).record(s.wireBytes());
        timer(MigrationMeter.ROUND_DURATION, d, g).record(s.durationNanos(), TimeUnit.NANOSECONDS);
        summary(MigrationMeter.ROUND_DIRTY_RATE, d, g).record(dirtyRate);
        summary(MigrationMeter.ROUND_BANDWIDTH, d, g).record(s.bandwidth());
        timer(MigrationMeter.ROUND_EXPECTED_DOWNTIME, d, g).record(Math.max(0, s.expectedDowntimeNanos()), TimeUnit.NANOSECONDS);
        last(MigrationMeter.LAST_ROUND_NUMBER, d, g, s.round());
        last(MigrationMeter.LAST_ROUND_DIRTY_PAGES, d, g, s.pagesDirtied());
        last(MigrationMeter.LAST_ROUND_SENT_PAGES, d, g, s.pagesSent());
        last(MigrationMeter.LAST_ROUND_DIRTY_RATE, d, g, dirtyRate);
        last(MigrationMeter.LAST_ROUND_BANDWIDTH, d, g, s.bandwidth());
        last(MigrationMeter.LAST_ROUND_EXPECTED_DOWNTIME, d, g, Math.max(0, s.expectedDowntimeNanos()) / 1e9);
    }

    @Override
    public void finished(MigrationInfo m, MigrationResult r) {
        if (!m.direction().migration()) {
            return;
        }
        running.remove(m.id());
        String d = word(m.direction());
        String g = word(m.guestType());
        String o = word(r.outcome());
        counter(MigrationMeter.MIGRATIONS_FINISHED, d, g, o).increment();
        timer(MigrationMeter.MIGRATION_DURATION, d, g, o).record(r.totalTime());
        counter(MigrationMeter.MIGRATION_STREAM_BYTES, d, g).increment(r.bytes());
        counter(MigrationMeter.MIGRATION_WIRE_BYTES, d, g, r.compression().label()).increment(r.wireBytes());
        if (m.direction() == Direction.OUTGOING) {
            summary(MigrationMeter.MIGRATION_ROUNDS, d, g).record(r.rounds());
        }
        Duration downtime = r.downtime().total();
        if (r.outcome() == MigrationResult.Outcome.SUCCEEDED) {
            timer(MigrationMeter.MIGRATION_DOWNTIME, d, g).record(downtime);
        }
    }

    // ---- meters, checked against their declaration ----------------------------------------------------

    private static Tags tags(MigrationMeter meter, String... values) {
        List<MigrationMeter.Tag> keys = meter.tags();
        if (keys.size() != values.length) {
            throw new IllegalArgumentException(meter + " takes tags " + keys + ", got " + values.length + " values");
        }
        List<io.micrometer.core.instrument.Tag> t = new ArrayList<>(keys.size());
        for (int i = 0; i < values.length; i++) {
            t.add(io.micrometer.core.instrument.Tag.of(keys.get(i).key(), values[i]));
        }
        return Tags.of(t);
    }

    private static void check(MigrationMeter meter, MigrationMeter.Type type) {
        if (meter.type() != type) {
            throw new IllegalArgumentException(meter + " is a " + meter.type() + ", not a " + type);
        }
    }

    Counter counter(MigrationMeter meter, String... tagValues) {
        check(meter, MigrationMeter.Type.COUNTER);
        return Counter.builder(meter.meterName()).baseUnit(meter.baseUnit()).description(meter.description())
                .tags(tags(meter, tagValues)).register(registry);
    }

    DistributionSummary summary(MigrationMeter meter, String... tagValues) {
        check(meter, MigrationMeter.Type.SUMMARY);
        return DistributionSummary.builder(meter.meterName()).baseUnit(meter.baseUnit()).description(meter.description())
                .tags(tags(meter, tagValues)).register(registry);
    }

    Timer timer(MigrationMeter meter, String... tagValues) {
        check(meter, MigrationMeter.Type.TIMER);
        return Timer.builder(meter.meterName()).description(meter.description()).tags(tags(meter, tagValues)).register(registry);
    }

    private void last(MigrationMeter meter, String direction, String guestType, double value) {
        check(meter, MigrationMeter.Type.GAUGE);
        AtomicLong holder = lastValues.computeIfAbsent(meter.name() + '/' + direction + '/' + guestType, k -> {
            AtomicLong h = new AtomicLong(Double.doubleToRawLongBits(0));
            Gauge.builder(meter.meterName(), h, a -> Double.longBitsToDouble(a.get())).baseUnit(meter.baseUnit())
                    .description(meter.description()).tags(tags(meter, direction, guestType)).register(registry);
            return h;
        });
        holder.set(Double.doubleToRawLongBits(value));
    }

    /** Tag values: lower-case words ({@code outgoing}, {@code hvm}, {@code succeeded}). */
    static String word(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
