package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** withDomainExclusive claims a domain like a migration: neither can start while the other holds it. */
class DomainExclusiveTest {

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

    @Test
    void aMigrationCannotStartWhileAnExclusiveActionRuns() throws Exception {
        pair.guest("vm1", GuestType.HVM, 64);
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<String> action = CompletableFuture.supplyAsync(() -> {
            try {
                return pair.a.engine.withDomainExclusive("vm1", "inspect", () -> {
                    inside.countDown();
                    release.await();
                    return "read";
                });
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertTrue(inside.await(10, TimeUnit.SECONDS));
        EngineException.DomainBusyException busy = assertThrows(EngineException.DomainBusyException.class,
                () -> pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS)));
        assertTrue(busy.migrationId().startsWith("inspect-"), busy.migrationId());
        assertThrows(EngineException.DomainBusyException.class,
                () -> pair.a.engine.withDomainExclusive("vm1", "inspect", () -> "second"));
        release.countDown();
        assertEquals("read", action.get(10, TimeUnit.SECONDS));
        // released: the migration may start now
        MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS))
                .result().get(30, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
    }

    @Test
    void anExclusiveActionIsRefusedWhileTheDomainMigrates() throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.HVM, 4096);
        src.startWorkload(1024, 200);
        AtomicReference<Exception> refused = new AtomicReference<>();
        AtomicReference<Boolean> ran = new AtomicReference<>(false);
        pair.a.engine.addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                if (to instanceof MigrationPhase.PreCopy p && p.round() == 0) {
                    try {
                        pair.a.engine.withDomainExclusive("vm1", "inspect", () -> ran.getAndSet(true));
                    } catch (EngineException e) {
                        refused.set(e);
                    }
                }
            }
        });
        MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS));
        MigrationResult r = h.result().get(30, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
        EngineException.DomainBusyException busy = assertThrows(EngineException.DomainBusyException.class, () -> {
            throw refused.get();
        });
        assertEquals(h.id(), busy.migrationId());
        assertEquals(false, ran.get(), "the action did not run");
        // the domain B received is free for an exclusive action once its migration ended
        pair.awaitDestinationIdle();
        assertEquals("ok", pair.b.engine.withDomainExclusive("vm1", "inspect", () -> "ok"));
    }
}
