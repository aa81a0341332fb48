package dev.migrationd.daemon.engine.handover;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.IncomingLimits;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The minimum incoming rate measures what the source delivers, not the time this side spends applying it. */
class RateFloorTest {

    private static final long S = 1_000_000_000L;
    private final IncomingLimits limits = new IncomingLimits(4, 1L << 30, Duration.ofSeconds(10), Duration.ofHours(1),
            1000, Duration.ofSeconds(30));

    @Test
    void aWindowThatBringsTooLittleFails() {
        IncomingMigration.RateFloor f = new IncomingMigration.RateFloor(limits, 0);
        f.add(100);
        assertNull(f.check(29 * S), "the window has not ended");
        String why = f.check(30 * S);
        assertNotNull(why);
        assertTrue(why.contains("100 bytes in 30000 ms"), why);
    }

    @Test
    void timeSpentApplyingMovesTheWindowOn() {
        IncomingMigration.RateFloor f = new IncomingMigration.RateFloor(limits, 0);
        f.add(100);
        f.ownTime(20 * S); // e.g. blocked writing to a toolstack that was still building the domain
        assertNull(f.check(30 * S), "only 10 s of the window were the source's");
        assertNull(f.check(49 * S));
        f.add(30_000);
        assertNull(f.check(50 * S), "30100 bytes in the source's 30 s: enough");
        f.ownTime(-5); // a clock step backwards is not credited
        assertNotNull(f.check(80 * S), "the next window brought nothing");
    }
}
