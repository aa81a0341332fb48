package dev.migrationd.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.faults.CopyChecker.Gap;
import dev.migrationd.faults.CopyChecker.Obs;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The checker's rules on made-up observations: how many copies ran in an interval, and which gaps fail. */
class CopyCheckerTest {

    private static final long MS = 1_000_000;

    private static Obs exec(long lo, long hi) {
        return new Obs(true, false, lo, hi, "executing");
    }

    private static Obs idle() {
        return new Obs(false, false, 0, 0, "present, not executing");
    }

    private static Obs virtual() {
        return new Obs(false, true, 0, 0, "daemon stopped, persisted RUNNING");
    }

    @Test
    void oneHostExecutingIsOneCopy() {
        assertEquals(1, CopyChecker.copies(new Obs[] {exec(10, 20), idle()}));
        assertEquals(0, CopyChecker.copies(new Obs[] {idle(), idle()}));
    }

    @Test
    void aHandOverInsideOneIntervalIsOneCopy() {
        // the source ran up to 500 and paused; the destination started from 500
        assertEquals(1, CopyChecker.copies(new Obs[] {exec(480, 500), exec(500, 520)}));
        assertEquals(1, CopyChecker.copies(new Obs[] {exec(500, 520), exec(480, 500)}));
    }

    @Test
    void bothExecutingTheSameStepsIsTwoCopies() {
        assertEquals(2, CopyChecker.copies(new Obs[] {exec(500, 530), exec(500, 520)}));
        assertEquals(2, CopyChecker.copies(new Obs[] {exec(490, 510), exec(500, 520)}));
    }

    @Test
    void aStoppedDaemonsRunningGuestCountsAsRunning() {
        assertEquals(2, CopyChecker.copies(new Obs[] {virtual(), exec(500, 520)}));
        assertEquals(1, CopyChecker.copies(new Obs[] {virtual(), idle()}));
    }

    @Test
    void aGapWithinTheReportedDowntimeAndToleranceIsAllowed() {
        Timeline t = new Timeline();
        long o = t.origin();
        List<Gap> gaps = List.of(new Gap(o, o + 1200 * MS));
        assertNull(CopyChecker.gapViolation(gaps, List.of(), Duration.ofMillis(300), t));
        String v = CopyChecker.gapViolation(List.of(new Gap(o, o + 1400 * MS)), List.of(), Duration.ofMillis(300), t);
        assertNotNull(v);
        assertTrue(v.contains("1400 ms"), v);
    }

    @Test
    void aGapDuringAHoldMustEndSoonAfterTheHold() {
        Timeline t = new Timeline();
        long o = t.origin();
        List<Timeline.Hold> holds = List.of(new Timeline.Hold(o + 1000 * MS, o + 66_000 * MS, "hostB down"));
        assertNull(CopyChecker.gapViolation(List.of(new Gap(o + 900 * MS, o + 70_000 * MS)), holds, Duration.ZERO, t));
        String v = CopyChecker.gapViolation(List.of(new Gap(o + 900 * MS, o + 90_000 * MS)), holds, Duration.ZERO, t);
        assertNotNull(v);
        assertTrue(v.contains("after the fault released it"), v);
    }
}
