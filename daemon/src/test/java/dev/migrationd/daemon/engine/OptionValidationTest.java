package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Options out of the engine's ranges are refused at start, naming the option, before anything is offered. */
class OptionValidationTest {

    @TempDir
    Path dir;
    EnginePair pair;

    @BeforeEach
    void setUp() throws Exception {
        pair = new EnginePair(dir);
    }

    @AfterEach
    void tearDown() {
        pair.close();
    }

    static Stream<Arguments> outOfRange() {
        MigrationOptions d = MigrationOptions.DEFAULTS;
        return Stream.of(
                Arguments.of(d.withMaxDowntime(Duration.ofNanos(1000)), "max downtime 1.0 us is outside 1 ms..1 h"),
                Arguments.of(d.withMaxDowntime(Duration.ofMinutes(61)), "max downtime 3660 s is outside 1 ms..1 h"),
                Arguments.of(d.withTimeout(Duration.ofNanos(999_999), MigrationOptions.TimeoutAction.ABORT),
                        "timeout 999.999 us is outside 1 ms..24 h"),
                Arguments.of(d.withTimeout(Duration.ofHours(25), MigrationOptions.TimeoutAction.FORCE),
                        "timeout 25 h is outside 1 ms..24 h"));
    }

    @ParameterizedTest
    @MethodSource("outOfRange")
    void outOfRangeOptionsAreRefusedBeforeTheOffer(MigrationOptions options, String message) throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.HVM, 64);
        EngineException e = assertThrows(EngineException.class,
                () -> pair.a.engine.start(MigrationRequest.of("vm1", "hostB", options)));
        assertEquals(EngineException.Kind.INVALID_ARGUMENT, e.kind());
        assertEquals("invalid option: " + message, e.getMessage());
        assertTrue(pair.a.engine.list().isEmpty(), "nothing started: " + pair.a.engine.list());
        assertTrue(pair.b.engine.list().isEmpty(), "nothing offered: " + pair.b.engine.list());
        assertEquals(0, src.pauses());
    }

    @Test
    void theBoundsThemselvesAreAccepted() throws Exception {
        pair.guest("vm1", GuestType.HVM, 64);
        MigrationOptions edge = MigrationOptions.DEFAULTS.withMaxDowntime(MigrationOptions.MAX_DOWNTIME)
                .withTimeout(MigrationOptions.MAX_TIMEOUT, MigrationOptions.TimeoutAction.ABORT)
                .withMaxRounds(MigrationOptions.MAX_ROUNDS_LIMIT);
        MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", edge)).result().get(30, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
    }

    @Test
    void constructorStillRejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> MigrationOptions.DEFAULTS.withMaxRounds(0));
        assertThrows(IllegalArgumentException.class,
                () -> MigrationOptions.DEFAULTS.withMaxRounds(MigrationOptions.MAX_ROUNDS_LIMIT + 1));
        assertThrows(IllegalArgumentException.class, () -> MigrationOptions.DEFAULTS.withBandwidthCap(-1));
    }
}
