package dev.migrationd.daemon.engine.precopy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.migrationd.daemon.engine.precopy.PrecopyPolicy.Action;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationOptions.TimeoutAction;
import dev.migrationd.daemon.engine.run.RoundStats;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The pre-copy policies as tables (they are pure functions): inputs are a RoundStats, outputs an action. */
class PoliciesTest {

    static final long P2M = 262_144; // 1 GiB guest
    static final long MS = 1_000_000;

    static RoundStats stats(int round, long sent, long remaining, double bandwidth, long totalBytes, long elapsedMs,
                            int throttle) {
        long expected = bandwidth > 0 ? (long) (remaining * 4096.0 / bandwidth * 1e9) : Long.MAX_VALUE;
        return new RoundStats(round, sent, sent, sent * 4100, 100 * MS, 1000, bandwidth, expected, remaining,
                totalBytes, elapsedMs * MS, P2M, throttle);
    }

    @ParameterizedTest(name = "xen-legacy round={0} sent={1} total={2} maxRounds={3} -> {4}")
    @CsvSource({
            // round, pagesSent, totalBytes, maxRounds, expected
            "0, 262144, 1073741824, 30, CONTINUE",      // first round: everything sent, more to do
            "0, 49, 200704, 30, STOP_AND_COPY",         // tiny guest: fewer than 50 pages
            "5, 49, 2000000000, 30, STOP_AND_COPY",     // fewer than 50 pages sent this round
            "5, 50, 2000000000, 30, CONTINUE",          // exactly 50 is not fewer
            "9, 1000, 3221225473, 30, STOP_AND_COPY",   // more than 3x memory sent
            "9, 1000, 3221225472, 30, CONTINUE",        // exactly 3x is not more
            "27, 1000, 2000000000, 30, CONTINUE",
            "28, 1000, 2000000000, 30, STOP_AND_COPY",  // 29 rounds: Xen's DEF_MAX_ITERS
            "3, 1000, 2000000000, 4, STOP_AND_COPY",    // a lower round limit from the options
    })
    void xenLegacy(int round, long sent, long total, int maxRounds, Action expected) {
        PrecopyPolicy p = Policies.xenLegacy(MigrationOptions.DEFAULTS.withMaxRounds(maxRounds));
        assertEquals(expected, p.decide(stats(round, sent, 5000, 1e9, total, 10, 0)).action());
    }

    @ParameterizedTest(name = "downtime round={0} sent={1} remaining={2} bw={3} elapsed={4}ms throttle={5} canThrottle={6} onTimeout={7} -> {8}")
    @CsvSource({
            // round, sent, remaining, bandwidth B/s, elapsedMs, throttle%, canThrottle, onTimeout, expected
            "0, 262144, 0, 1e9, 100, 0, true, ABORT, STOP_AND_COPY",          // nothing dirty
            "0, 262144, 70000, 1e9, 100, 0, true, ABORT, STOP_AND_COPY",      // 286 MB / 1 GB/s = 286 ms <= 300
            "0, 262144, 80000, 1e9, 100, 0, true, ABORT, CONTINUE",           // 327 ms > 300; round 0 shrank the dirty set
            "0, 262144, 262000, 1.34e8, 8000, 0, true, ABORT, THROTTLE",      // round 0 left all memory dirty: throttle now
            "0, 262144, 235929, 1.34e8, 8000, 0, true, ABORT, CONTINUE",      // just under 90% of what it sent: shrinking
            "3, 10000, 9500, 1e8, 100, 0, true, ABORT, THROTTLE",             // not shrinking: throttle
            "3, 10000, 9500, 1e8, 100, 0, false, ABORT, CONTINUE",            // not shrinking, cannot throttle
            "3, 10000, 8000, 1e8, 100, 0, true, ABORT, CONTINUE",             // shrinking by 20%: keep going
            "3, 10000, 9500, 1e8, 100, 99, true, ABORT, CONTINUE",            // throttle at its maximum
            "29, 10000, 9500, 1e8, 100, 50, true, ABORT, ABORT",              // round limit 30, abort chosen
            "29, 10000, 9500, 1e8, 100, 50, true, FORCE, STOP_AND_COPY",      // round limit 30, force chosen
            "5, 10000, 9500, 1e8, 600001, 50, true, ABORT, ABORT",            // time limit (10 min) reached
            "5, 10000, 9500, 1e8, 600001, 50, true, FORCE, STOP_AND_COPY",
            "5, 10000, 9500, 0, 100, 0, false, ABORT, CONTINUE",              // bandwidth unknown: never stop on it
    })
    void downtime(int round, long sent, long remaining, double bandwidth, long elapsedMs, int throttle,
                  boolean canThrottle, TimeoutAction onTimeout, Action expected) {
        MigrationOptions o = MigrationOptions.DEFAULTS.withTimeout(Duration.ofMinutes(10), onTimeout);
        PrecopyPolicy p = Policies.downtime(o, canThrottle);
        assertEquals(expected, p.decide(stats(round, sent, remaining, bandwidth, 1L << 30, elapsedMs, throttle)).action());
    }

    @ParameterizedTest
    @CsvSource({
            // current %, dirty pages/s, bandwidth B/s -> next %
            "0,  0,     1e8, 20",     // rate unknown: QEMU's initial step
            "20, 0,     1e8, 30",     // then +10
            "80, 0,     1e8, 90",
            "90, 0,     1e8, 99",     // capped
            "99, 0,     1e8, 99",
            "0,  1000,  1e8, 20",     // 4 MB/s dirtying on a 100 MB/s link: the step is enough
            "0,  32768, 3.2e7, 89",   // 134.2 MB/s dirtying on a 32 MB/s link: 1 - 32/(2*134.2) = 88.1% -> 89
            "30, 20000, 3.3e7, 86",   // 81.9 MB/s at 30% = 117 MB/s at full speed: 1 - 33/234 = 85.9% -> 86
            "80, 6488,  3.3e7, 90",   // 26.6 MB/s at 80% needs 87.6%: QEMU's +10 step is more
            "50, 100000, 1e6, 99",    // hopeless: capped
    })
    void throttleSteps(int current, double dirtyPagesPerSecond, double bandwidth, int next) {
        RoundStats s = new RoundStats(3, 1000, 1000, 4_096_000, 1_000_000_000L, dirtyPagesPerSecond, bandwidth,
                1_000_000_000L, 1000, 1L << 30, 3_000_000_000L, 1L << 18, current);
        assertEquals(next, Policies.nextThrottle(s));
    }

    /**
     * The first throttle of a guest dirtying faster than the link: round 0 (no dirty rate of its own: its pages
     * left dirty over its duration) and saturated rounds (nearly all memory left dirty: the rate is a lower bound).
     */
    @ParameterizedTest(name = "round {0}, {1} s, {2} pages left dirty of 262144, {3} pages/s measured, link {4} B/s, throttle {5}% -> {6}%")
    @CsvSource({
            // 1 GiB guest, 300 MB/s dirtying (73242 pages/s), 128 MiB/s link: round 0 takes 8 s and leaves all 262144
            // pages dirty: measured 32768 pages/s = 134 MB/s (the link), taken as 268 MB/s: 1 - 134/536 = 75%
            "0, 8, 262144, 0, 134217728, 0, 75",
            // the same without saturation (a quarter of memory left): 8192 pages/s = 33.5 MB/s, QEMU's step suffices
            "0, 8, 65536, 0, 134217728, 0, 20",
            // a saturated later round at 50%: 32768 pages/s measured at 50% = 268 MB/s full speed, taken as 537:
            // 1 - 134/(2*537) = 87.5% -> 88
            "2, 8, 262000, 32768, 134217728, 50, 88",
            // not saturated: the measured rate stands: 268 MB/s full speed -> 1 - 134/536 = 75%, over 50 + 10
            "2, 8, 200000, 32768, 134217728, 50, 75",
    })
    void firstThrottleOfAGuestFasterThanTheLink(int round, long seconds, long remaining, double measuredPagesPerSecond,
                                                double bandwidth, int current, int next) {
        RoundStats s = new RoundStats(round, P2M, P2M, P2M * 4096, seconds * 1_000_000_000L, measuredPagesPerSecond,
                bandwidth, (long) (remaining * 4096.0 / bandwidth * 1e9), remaining, P2M * 4096 * (round + 1),
                seconds * 1_000_000_000L * (round + 1), P2M, current);
        assertEquals(next, Policies.nextThrottle(s));
    }

    @ParameterizedTest
    @CsvSource({"DOWNTIME, downtime", "XEN_LEGACY, xen-legacy"})
    void policyNames(MigrationOptions.PolicyKind kind, String cli) {
        assertEquals(cli, kind.cliName());
        assertEquals(kind, MigrationOptions.PolicyKind.fromCliName(cli));
    }
}
