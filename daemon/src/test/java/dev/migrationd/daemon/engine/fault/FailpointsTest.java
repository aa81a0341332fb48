package dev.migrationd.daemon.engine.fault;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FailpointsTest {

    @Test
    void parsesEveryAction() {
        Map<String, Failpoints.Action> armed = Failpoints.parse(" journal.append.after-force = crash, handover.source.before-go=hang,"
                + "journal.after-force.COMMITTED=error,handover.dest.before-unpause=sleep:250 ");
        assertEquals(new Failpoints.Action.Crash(), armed.get("journal.append.after-force"));
        assertEquals(new Failpoints.Action.Hang(), armed.get("handover.source.before-go"));
        assertEquals(new Failpoints.Action.Error(), armed.get("journal.after-force.COMMITTED"));
        assertEquals(new Failpoints.Action.Sleep(250), armed.get("handover.dest.before-unpause"));
        assertEquals(4, armed.size());
    }

    @Test
    void nothingArmedWithoutTheVariable() {
        assertTrue(Failpoints.parse(null).isEmpty());
        assertTrue(Failpoints.parse("  ").isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"crash", "=crash", "a=", "journal.append.after-force=explode", "a=sleep:", "a=sleep:-1", "a=sleep:99999999999"})
    void refusesMalformedEntriesNamingThem(String spec) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Failpoints.parse(spec));
        assertTrue(e.getMessage().startsWith(Failpoints.ENV), e.getMessage());
    }

    @Test
    void refusesAnUnknownFailpointNamingItAndTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Failpoints.parse("journal.after-force.COMMITED=crash,handover.source.before-go=hang"));
        String m = e.getMessage();
        assertTrue(m.startsWith(Failpoints.ENV + ": unknown failpoint journal.after-force.COMMITED (known: "), m);
        assertTrue(m.contains("journal.after-force.COMMITTED") && m.contains(FailpointNames.JOURNAL_COMPACT_AFTER_RENAME), m);
        assertEquals(1, m.lines().count(), "one line: " + m);
    }

    @Test
    void anUnarmedFailpointDoesNothing() throws Exception {
        // The test JVM runs without MIGRATIOND_FAILPOINTS: hit() must return at once.
        assertTrue(Failpoints.armed().isEmpty(), "the test environment must not arm failpoints");
        Failpoints.hit("journal.after-write");
    }
}
