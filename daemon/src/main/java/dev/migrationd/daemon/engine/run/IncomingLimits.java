package dev.migrationd.daemon.engine.run;

import java.time.Duration;
import java.util.Objects;

/**
 * How much a destination gives incoming migrations, each limit a daemon setting of the same name. All
 * of the admission limits are decided before Accept, before anything is allocated or journaled; the
 * others bound a migration once it runs, so that a peer cannot hold a destination's resources for ever.
 *
 * @param maxMigrations     {@code max-incoming-migrations}: incoming migrations running at once
 * @param maxOfferBytes     {@code max-offer-memory}: guest memory of one offer
 * @param offerTimeout      {@code offer-timeout}: how long an accepted connection may take to send its first
 *                          message (an Offer or a Query) before it is closed
 * @param deadline          {@code incoming-deadline}: the whole incoming migration, Offer to Running
 * @param minBytesPerSecond {@code incoming-min-rate}: the stream must bring at least this many bytes per second,
 *                          averaged over each {@code rateWindow}, or the migration is cut off and its copy destroyed
 * @param rateWindow        {@code incoming-rate-window}: the window the minimum rate is measured over
 */
public record IncomingLimits(int maxMigrations, long maxOfferBytes, Duration offerTimeout, Duration deadline,
                             long minBytesPerSecond, Duration rateWindow) {

    public static final int DEFAULT_MAX_MIGRATIONS = 4;
    /** 512 GiB: larger than any guest this daemon is meant for, small enough to refuse an absurd offer. */
    public static final long DEFAULT_MAX_OFFER_BYTES = 512L << 30;
    public static final Duration DEFAULT_OFFER_TIMEOUT = Duration.ofSeconds(10);
    /** Four hours: a 512 GiB guest at 50 MiB/s takes about three. */
    public static final Duration DEFAULT_DEADLINE = Duration.ofHours(4);
    /** 64 KiB/s: far below any real link, far above a peer that dribbles a byte every few seconds. */
    public static final long DEFAULT_MIN_BYTES_PER_SECOND = 64L << 10;
    public static final Duration DEFAULT_RATE_WINDOW = Duration.ofSeconds(30);

    public static final IncomingLimits DEFAULTS = new IncomingLimits(DEFAULT_MAX_MIGRATIONS, DEFAULT_MAX_OFFER_BYTES,
            DEFAULT_OFFER_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_MIN_BYTES_PER_SECOND, DEFAULT_RATE_WINDOW);

    public IncomingLimits {
        Objects.requireNonNull(offerTimeout, "offerTimeout");
        Objects.requireNonNull(deadline, "deadline");
        Objects.requireNonNull(rateWindow, "rateWindow");
        if (maxMigrations < 1) {
            throw new IllegalArgumentException("max-incoming-migrations must be at least 1");
        }
        if (maxOfferBytes <= 0) {
            throw new IllegalArgumentException("max-offer-memory must be positive");
        }
        if (offerTimeout.isNegative() || offerTimeout.isZero() || deadline.isNegative() || deadline.isZero()
                || rateWindow.isNegative() || rateWindow.isZero()) {
            throw new IllegalArgumentException("offer-timeout, incoming-deadline and incoming-rate-window must be positive");
        }
        if (minBytesPerSecond < 0) {
            throw new IllegalArgumentException("incoming-min-rate must not be negative");
        }
    }

    /** Bytes the stream must bring in one {@link #rateWindow}. */
    public long minBytesPerWindow() {
        return (long) (minBytesPerSecond * (rateWindow.toNanos() / 1e9));
    }
}
