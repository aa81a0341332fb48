package dev.migrationd.daemon.transport;

import java.time.Duration;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts every connection the transport refuses or cuts off before it proved a peer, and decides which of them
 * get their own log line: at most {@link #BURST} per window ({@link #WINDOW} in the daemon). Past that, refusals are only counted, and
 * when the window ends one summary line ({@code event=peer_refusals_not_logged}) says how many were left out, by
 * reason and by remote address (the {@link #SUMMARY_ADDRESSES} busiest). So a thousand refused connections write
 * at most {@code BURST + 1} lines per window, and the lone refused peer of a misconfiguration is still logged in
 * full with its reason. The counts ({@link #count}) feed the metric whatever is logged.
 *
 * <p>Threading: {@link #refused} is called from the event loops, the summary runs on {@code scheduler} (an event
 * loop too); the window's state is guarded by this object's lock, the counts are atomic.
 */
final class RefusalLog {

    private static final Logger LOG = LoggerFactory.getLogger(RefusalLog.class);

    /** Refusals logged one line each per window. */
    static final int BURST = 10;
    /** The window over which {@link #BURST} applies (the daemon's; tests pass shorter ones). */
    static final Duration WINDOW = Duration.ofSeconds(10);
    /** Remote addresses named in a summary, the busiest first. */
    static final int SUMMARY_ADDRESSES = 5;
    /** Distinct addresses counted per window for the summary; refusals from more go under "other". */
    static final int MAX_TRACKED_ADDRESSES = 256;

    private final EnumMap<PeerRefusal, AtomicLong> counts = new EnumMap<>(PeerRefusal.class);
    private final ScheduledExecutorService scheduler;
    private final LongSupplier nanoClock;
    private final Duration windowLength;

    // guarded by this
    private long window = -1;
    private long windowStart;
    private int logged;
    private final EnumMap<PeerRefusal, Long> notLogged = new EnumMap<>(PeerRefusal.class);
    private final Map<String, Long> notLoggedFrom = new LinkedHashMap<>();
    private long notLoggedTotal;

    RefusalLog(ScheduledExecutorService scheduler, LongSupplier nanoClock, Duration window) {
        this.scheduler = scheduler;
        this.nanoClock = nanoClock;
        this.windowLength = window;
        for (PeerRefusal r : PeerRefusal.values()) {
            counts.put(r, new AtomicLong());
        }
    }

    /** Refusals of this kind since start. */
    long count(PeerRefusal why) {
        return counts.get(why).get();
    }

    /**
     * Counts a refusal of a connection from {@code address}; whether the caller should log it in its own line
     * (otherwise it is summed up at the end of the window).
     */
    synchronized boolean refused(PeerRefusal why, String address) {
        counts.get(why).incrementAndGet();
        long now = nanoClock.getAsLong();
        if (window < 0 || now - windowStart >= windowLength.toNanos()) {
            summarize(window); // normally done by its timer already
            window++;
            windowStart = now;
            logged = 0;
        }
        if (logged < BURST) {
            logged++;
            return true;
        }
        if (notLoggedTotal == 0) {
            long w = window;
            try {
                scheduler.schedule(() -> summarize(w), windowLength.toNanos() - (now - windowStart), TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException shuttingDown) {
                // close() writes the summary
            }
        }
        notLoggedTotal++;
        notLogged.merge(why, 1L, Long::sum);
        String key = notLoggedFrom.containsKey(address) || notLoggedFrom.size() < MAX_TRACKED_ADDRESSES ? address : "other";
        notLoggedFrom.merge(key, 1L, Long::sum);
        return false;
    }

    /** Writes the summary of window {@code w} if it is the current one and left anything out. */
    synchronized void summarize(long w) {
        if (w != window || notLoggedTotal == 0) {
            return;
        }
        String reasons = notLogged.entrySet().stream().map(e -> e.getKey().label() + "=" + e.getValue())
                .collect(Collectors.joining(","));
        String from = notLoggedFrom.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()))
                .limit(SUMMARY_ADDRESSES).map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
        LOG.warn("event=peer_refusals_not_logged window_ms={} logged={} not_logged={} reasons=\"{}\" busiest_remotes=\"{}\" "
                + "remotes={}", windowLength.toMillis(), logged, notLoggedTotal, reasons, from, notLoggedFrom.size());
        notLoggedTotal = 0;
        notLogged.clear();
        notLoggedFrom.clear();
    }

    /** Writes what the current window left out (at shutdown). */
    synchronized void close() {
        summarize(window);
    }
}
