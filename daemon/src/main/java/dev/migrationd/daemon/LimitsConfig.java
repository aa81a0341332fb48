package dev.migrationd.daemon;

import dev.migrationd.control.cli.text.Units;
import dev.migrationd.daemon.engine.EngineConfig;
import dev.migrationd.daemon.engine.run.IncomingLimits;
import dev.migrationd.daemon.transport.PeerLinkSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The daemon's resource limits, each a setting with a default, each named in the refusal it causes.
 * Sizes take units ({@code 64GiB}), rates {@code /s} ({@code 64KiB/s}), durations a unit ({@code 30s}).
 *
 * @param incoming          the bounds of incoming migrations (count, offer size, deadlines, minimum rate)
 * @param maxIncomingBytes  {@code max-incoming-memory}: guest memory being received at once, all migrations
 * @param maxConnections    {@code max-peer-connections}
 * @param maxHandshakes     {@code max-peer-handshakes}
 * @param maxHandshakesPerAddress {@code max-peer-handshakes-per-address}
 * @param handshakeTimeout  {@code peer-handshake-timeout}
 * @param writeTimeout      {@code peer-write-timeout}
 */
public record LimitsConfig(IncomingLimits incoming, long maxIncomingBytes, int maxConnections, int maxHandshakes,
                           int maxHandshakesPerAddress, Duration handshakeTimeout, Duration writeTimeout) {

    public static final String KEY_MAX_INCOMING_MIGRATIONS = "max-incoming-migrations";
    public static final String KEY_MAX_INCOMING_MEMORY = "max-incoming-memory";
    public static final String KEY_MAX_OFFER_MEMORY = "max-offer-memory";
    public static final String KEY_OFFER_TIMEOUT = "offer-timeout";
    public static final String KEY_INCOMING_DEADLINE = "incoming-deadline";
    public static final String KEY_INCOMING_MIN_RATE = "incoming-min-rate";
    public static final String KEY_INCOMING_RATE_WINDOW = "incoming-rate-window";
    public static final String KEY_MAX_PEER_CONNECTIONS = "max-peer-connections";
    public static final String KEY_MAX_PEER_HANDSHAKES = "max-peer-handshakes";
    public static final String KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS = "max-peer-handshakes-per-address";
    public static final String KEY_PEER_HANDSHAKE_TIMEOUT = "peer-handshake-timeout";
    public static final String KEY_PEER_WRITE_TIMEOUT = "peer-write-timeout";

    public static final List<String> KEYS = List.of(KEY_MAX_INCOMING_MIGRATIONS, KEY_MAX_INCOMING_MEMORY, KEY_MAX_OFFER_MEMORY,
            KEY_OFFER_TIMEOUT, KEY_INCOMING_DEADLINE, KEY_INCOMING_MIN_RATE, KEY_INCOMING_RATE_WINDOW,
            KEY_MAX_PEER_CONNECTIONS, KEY_MAX_PEER_HANDSHAKES, KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS, KEY_PEER_HANDSHAKE_TIMEOUT,
            KEY_PEER_WRITE_TIMEOUT);

    public static final LimitsConfig DEFAULTS = new LimitsConfig(IncomingLimits.DEFAULTS,
            EngineConfig.DEFAULT_MAX_INCOMING_BYTES, PeerLinkSettings.DEFAULT_MAX_CONNECTIONS,
            PeerLinkSettings.DEFAULT_MAX_HANDSHAKES, PeerLinkSettings.DEFAULT_MAX_HANDSHAKES_PER_ADDRESS,
            PeerLinkSettings.DEFAULT_HANDSHAKE_TIMEOUT, PeerLinkSettings.DEFAULT_WRITE_TIMEOUT);

    static LimitsConfig parse(Map<String, String> values, Map<String, String> where) throws ConfigException {
        IncomingLimits d = IncomingLimits.DEFAULTS;
        int migrations = (int) number(values, where, KEY_MAX_INCOMING_MIGRATIONS, d.maxMigrations(), 1, 1024);
        long total = size(values, where, KEY_MAX_INCOMING_MEMORY, DEFAULTS.maxIncomingBytes());
        long offer = size(values, where, KEY_MAX_OFFER_MEMORY, d.maxOfferBytes());
        Duration offerTimeout = duration(values, where, KEY_OFFER_TIMEOUT, d.offerTimeout());
        Duration deadline = duration(values, where, KEY_INCOMING_DEADLINE, d.deadline());
        long minRate = rate(values, where, KEY_INCOMING_MIN_RATE, d.minBytesPerSecond());
        Duration window = duration(values, where, KEY_INCOMING_RATE_WINDOW, d.rateWindow());
        int connections = (int) number(values, where, KEY_MAX_PEER_CONNECTIONS, DEFAULTS.maxConnections(), 1, 65_536);
        int handshakes = (int) number(values, where, KEY_MAX_PEER_HANDSHAKES, DEFAULTS.maxHandshakes(), 1, 65_536);
        // unset, the per-address share follows a smaller total down; set, it must fit in the total
        int perAddress = (int) number(values, where, KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS,
                Math.min(DEFAULTS.maxHandshakesPerAddress(), handshakes), 1, 65_536);
        if (perAddress > handshakes) {
            throw new ConfigException(where.get(KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS) + ": " + KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS
                    + " " + perAddress + " is more than " + KEY_MAX_PEER_HANDSHAKES + " " + handshakes);
        }
        Duration handshake = duration(values, where, KEY_PEER_HANDSHAKE_TIMEOUT, DEFAULTS.handshakeTimeout());
        Duration write = duration(values, where, KEY_PEER_WRITE_TIMEOUT, DEFAULTS.writeTimeout());
        return new LimitsConfig(new IncomingLimits(migrations, offer, offerTimeout, deadline, minRate, window), total,
                connections, handshakes, perAddress, handshake, write);
    }

    private static long number(Map<String, String> values, Map<String, String> where, String key, long dflt, long min, long max)
            throws ConfigException {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new ConfigException(where.get(key) + ": '" + v + "' must be a whole number in " + min + ".." + max);
    }

    private static long size(Map<String, String> values, Map<String, String> where, String key, long dflt) throws ConfigException {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            long n = Units.parseSize(v);
            if (n > 0) {
                return n;
            }
            throw new IllegalArgumentException("'" + v + "' must be positive");
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where.get(key) + ": " + e.getMessage());
        }
    }

    private static long rate(Map<String, String> values, Map<String, String> where, String key, long dflt) throws ConfigException {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Units.parseRate(v);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where.get(key) + ": " + e.getMessage());
        }
    }

    private static Duration duration(Map<String, String> values, Map<String, String> where, String key, Duration dflt)
            throws ConfigException {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            Duration d = Units.parseDuration(v);
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException("'" + v + "' must be longer than zero");
            }
            return d;
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where.get(key) + ": " + e.getMessage());
        }
    }
}
