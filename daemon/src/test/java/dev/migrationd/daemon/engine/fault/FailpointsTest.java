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
        Map<String, Failpoints.Action> armed =
                Failpoints.parse(" journal.after-write = crash, handover.before-go=hang,save.fsync=error,x=sleep:250 ");
        assertEquals(new Failpoints.Action.Crash(), armed.get("journal.after-write"));
        assertEquals(new Failpoints.Action.Hang(), armed.get("handover.before-go"));
        assertEquals(new Failpoints.Action.Error(), armed.get("save.fsync"));
        assertEquals(new Failpoints.Action.Sleep(250), armed.get("x"));
        assertEquals(4, armed.size());
    }

    @Test
    void nothingArmedWithoutTheVariable() {
        assertTrue(Failpoints.parse(null).isEmpty());
        assertTrue(Failpoints.parse("  ").isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"crash", "=crash", "a=", "a=explode", "a=sleep:", "a=sleep:-1", "a=sleep:99999999999"})
    void refusesMalformedEntriesNamingThem(String spec) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Failpoints.parse(spec));
        assertTrue(e.getMessage().startsWith(Failpoints.ENV), e.getMessage());
    }

    @Test
    void anUnarmedFailpointDoesNothing() throws Exception {
        // The test JVM runs without MIGRATIOND_FAILPOINTS: hit() must return at once.
        assertTrue(Failpoints.armed().isEmpty(), "the test environment must not arm failpoints");
        Failpoints.hit("journal.after-write");
    }
}
