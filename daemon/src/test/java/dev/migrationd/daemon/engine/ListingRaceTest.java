package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A migration that has been seen stays visible to list() and find() while it ends: it moves from the
 * live map to the history without a moment in neither, so that "no live migration" always comes with
 * the finished one's history entry.
 */
class ListingRaceTest {

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
    void anEndingMigrationIsNeverMissingFromTheListOrFind() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<String> problem = new AtomicReference<>();
        Thread watcher = Thread.ofPlatform().name("list-watcher").start(() -> {
            java.util.Set<String> seen = new java.util.HashSet<>();
            while (!stop.get() && problem.get() == null) {
                List<MigrationSummary> l = pair.b.engine.list();
                java.util.Set<String> now = new java.util.HashSet<>();
                for (MigrationSummary s : l) {
                    if (!now.add(s.info().id())) {
                        problem.set("listed twice: " + s.info().id());
                    }
                }
                for (String id : seen) {
                    if (!now.contains(id)) {
                        problem.set("missing from list(): " + id);
                    }
                    if (pair.b.engine.find(id).isEmpty()) {
                        problem.set("missing from find(): " + id);
                    }
                }
                seen.addAll(now);
            }
        });
        try {
            for (int i = 0; i < 30 && problem.get() == null; i++) {
                pair.guest("vm" + i, GuestType.HVM, 16);
                MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm" + i, "hostB", MigrationOptions.DEFAULTS))
                        .result().get(30, TimeUnit.SECONDS);
                assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
            }
            pair.awaitDestinationIdle();
        } finally {
            stop.set(true);
            watcher.join();
        }
        assertNull(problem.get());
    }
}
