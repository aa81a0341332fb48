package dev.migrationd.daemon.engine.run;

import java.time.Duration;
import java.util.Objects;

/**
 * How one migration runs. Immutable; {@link #DEFAULTS} holds the documented defaults and the
 * {@code with*} methods derive variants.
 *
 * @param policy           pre-copy policy: {@link PolicyKind#DOWNTIME} (default) or {@link PolicyKind#XEN_LEGACY}
 * @param maxDowntime      downtime target of the {@code downtime} policy (default 300 ms, as QEMU)
 * @param bandwidthCap     bytes per second the stream may use; 0 = unlimited
 * @param maxRounds        pre-copy rounds before the round limit applies (round 0 counts)
 * @param timeout          wall-clock limit of the pre-copy phase
 * @param onTimeout        what happens at the round or time limit: abort (guest keeps running on the source)
 *                         or force (stop-and-copy whatever the downtime)
 * @param verify           whether every page is resent after the final round and compared by the receiver
 * @param format           the save-stream format on the wire
 */
public record MigrationOptions(PolicyKind policy, Duration maxDowntime, long bandwidthCap, int maxRounds,
                               Duration timeout, TimeoutAction onTimeout, VerifyMode verify, StreamFormat format) {

    /** Largest accepted round limit (xen-legacy uses 29; a higher limit is never useful). */
    public static final int MAX_ROUNDS_LIMIT = 10_000;
    /** Shortest downtime target the engine accepts (the wire carries whole milliseconds). */
    public static final Duration MIN_DOWNTIME = Duration.ofMillis(1);
    /** Longest downtime target the engine accepts. */
    public static final Duration MAX_DOWNTIME = Duration.ofHours(1);
    /** Shortest pre-copy timeout the engine accepts (the wire carries whole milliseconds). */
    public static final Duration MIN_TIMEOUT = Duration.ofMillis(1);
    /** Longest pre-copy timeout the engine accepts. */
    public static final Duration MAX_TIMEOUT = Duration.ofHours(24);

    public static final MigrationOptions DEFAULTS = new MigrationOptions(PolicyKind.DOWNTIME, Duration.ofMillis(300), 0,
            30, Duration.ofMinutes(10), TimeoutAction.ABORT, VerifyMode.OFF, StreamFormat.LEGACY);

    public MigrationOptions {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(maxDowntime, "maxDowntime");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(onTimeout, "onTimeout");
        Objects.requireNonNull(verify, "verify");
        Objects.requireNonNull(format, "format");
        if (maxDowntime.isNegative() || maxDowntime.isZero()) {
            throw new IllegalArgumentException("maxDowntime must be positive: " + maxDowntime);
        }
        if (bandwidthCap < 0) {
            throw new IllegalArgumentException("bandwidthCap must not be negative: " + bandwidthCap);
        }
        if (maxRounds < 1 || maxRounds > MAX_ROUNDS_LIMIT) {
            throw new IllegalArgumentException("maxRounds must be in 1.." + MAX_ROUNDS_LIMIT + ": " + maxRounds);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive: " + timeout);
        }
    }

    /**
     * The problem with these options for a migration, naming the option, or null when they are usable.
     * The constructor only rejects values that make no sense at all; this checks the ranges the engine
     * (and the peer protocol, which carries whole milliseconds) supports.
     */
    public String problem() {
        if (maxDowntime.compareTo(MIN_DOWNTIME) < 0 || maxDowntime.compareTo(MAX_DOWNTIME) > 0) {
            return "max downtime " + show(maxDowntime) + " is outside " + show(MIN_DOWNTIME) + ".." + show(MAX_DOWNTIME);
        }
        if (timeout.compareTo(MIN_TIMEOUT) < 0 || timeout.compareTo(MAX_TIMEOUT) > 0) {
            return "timeout " + show(timeout) + " is outside " + show(MIN_TIMEOUT) + ".." + show(MAX_TIMEOUT);
        }
        if (maxRounds < 1 || maxRounds > MAX_ROUNDS_LIMIT) {
            return "max rounds " + maxRounds + " is outside 1.." + MAX_ROUNDS_LIMIT;
        }
        if (bandwidthCap < 0) {
            return "bandwidth " + bandwidthCap + " bytes/s is negative";
        }
        return null;
    }

    private static String show(Duration d) {
        if (d.toNanos() % 1_000_000 != 0 || d.isZero()) {
            return d.toNanos() / 1000.0 + " us";
        }
        if (d.toMillis() % 3_600_000 == 0) {
            return d.toHours() + " h";
        }
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    public MigrationOptions withPolicy(PolicyKind p) {
        return new MigrationOptions(p, maxDowntime, bandwidthCap, maxRounds, timeout, onTimeout, verify, format);
    }

    public MigrationOptions withMaxDowntime(Duration d) {
        return new MigrationOptions(policy, d, bandwidthCap, maxRounds, timeout, onTimeout, verify, format);
    }

    public MigrationOptions withBandwidthCap(long bytesPerSecond) {
        return new MigrationOptions(policy, maxDowntime, bytesPerSecond, maxRounds, timeout, onTimeout, verify, format);
    }

    public MigrationOptions withMaxRounds(int rounds) {
        return new MigrationOptions(policy, maxDowntime, bandwidthCap, rounds, timeout, onTimeout, verify, format);
    }

    public MigrationOptions withTimeout(Duration t, TimeoutAction action) {
        return new MigrationOptions(policy, maxDowntime, bandwidthCap, maxRounds, t, action, verify, format);
    }

    public MigrationOptions withVerify(VerifyMode v) {
        return new MigrationOptions(policy, maxDowntime, bandwidthCap, maxRounds, timeout, onTimeout, v, format);
    }

    public MigrationOptions withFormat(StreamFormat f) {
        return new MigrationOptions(policy, maxDowntime, bandwidthCap, maxRounds, timeout, onTimeout, verify, f);
    }

    /** The pre-copy policies (implemented in the precopy package). */
    public enum PolicyKind {
        /** Stop when the remaining dirty bytes fit the downtime target at the measured bandwidth (default). */
        DOWNTIME("downtime"),
        /** {@code xc_domain_save}'s rule: 29 rounds, 3x memory sent, or fewer than 50 dirty pages. */
        XEN_LEGACY("xen-legacy");

        private final String cliName;

        PolicyKind(String cliName) {
            this.cliName = cliName;
        }

        /** The name on the command line and in the control API. */
        public String cliName() {
            return cliName;
        }

        public static PolicyKind fromCliName(String name) {
            for (PolicyKind k : values()) {
                if (k.cliName.equals(name)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown policy '" + name + "' (known: downtime, xen-legacy)");
        }
    }

    /** What the round or time limit does. */
    public enum TimeoutAction {
        /** Give up: the guest keeps running on the source. */
        ABORT,
        /** Stop and copy now, whatever the downtime. */
        FORCE
    }

    /** Verify mode (legacy {@code XC_SAVE_ID_ENABLE_VERIFY_MODE}). */
    public enum VerifyMode {
        OFF,
        /** Resend every page after the final round; the receiver compares and fails on any difference. */
        ON
    }

    /** The save-stream format. */
    public enum StreamFormat {
        /** Xen legacy (4.0 – 4.5) libxc stream: the wire default. */
        LEGACY,
        /** Xen migration stream v2. */
        V2
    }
}
