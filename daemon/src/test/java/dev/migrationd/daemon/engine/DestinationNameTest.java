package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A migration that gives the guest another name on the destination, and a migration between two daemons of
 * one host (one hypervisor), which works the way {@code xl migrate} to localhost does: the copy arrives as
 * {@code NAME--incoming}, the source's copy becomes {@code NAME--migratedaway} before Go, and the copy takes
 * {@code NAME} at the commit point; a migration that does not commit gives the source its name back.
 */
class DestinationNameTest {

    @TempDir
    Path dir;

    /** The domain names on B's host at each of B's phases. */
    private static Map<String, Set<String>> namesAtPhases(EnginePair pair) {
        Map<String, Set<String>> seen = new ConcurrentHashMap<>();
        pair.b.engine.addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                try {
                    seen.put(to.name(), new TreeSet<>(pair.b.hv.names()));
                } catch (HypervisorException e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        return seen;
    }

    @Test
    void theGuestArrivesUnderTheNameGivenForTheDestination() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 256);
            UUID uuid = src.uuid();
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS)
                    .withDestinationName("vm1-b")).result().get(30, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
            assertEquals(Set.of("vm1-b"), pair.b.hv.names());
            assertTrue(pair.b.hv.guest("vm1-b").orElseThrow().running());
            assertEquals(uuid, pair.b.hv.guest("vm1-b").orElseThrow().info().uuid());
            assertFalse(pair.a.hv.names().contains("vm1"));
            assertEquals("vm1-b", pair.b.engine.list().getFirst().info().domain());
        }
    }

    @Test
    void aDestinationRefusesAnotherGuestsNameAndSaysWhose() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm2", GuestType.PV, 256);
            SimGuest other = pair.b.hv.createRunning("vm2", GuestType.PV, 64, 1);
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm2", "hostB", MigrationOptions.DEFAULTS))
                    .result().get(30, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
            assertTrue(r.reason().contains("a domain named vm2 exists here (another guest, UUID " + other.uuid() + ")"),
                    r.reason());
            assertTrue(src.running());
        }
    }

    @Test
    void twoDaemonsOfOneHostMigrateUnderATemporaryNameRenamedAtTheCommitPoint() throws Exception {
        try (EnginePair pair = EnginePair.oneHost(dir)) {
            SimGuest src = pair.guest("vm3", GuestType.HVM, 512);
            int domid = src.info().domid();
            Map<String, Set<String>> seen = namesAtPhases(pair);
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm3", "hostB", MigrationOptions.DEFAULTS))
                    .result().get(30, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
            assertEquals(Set.of("vm3", "vm3--incoming"), seen.get("awaiting-go"), "built beside the running guest: " + seen);
            assertEquals(Set.of("vm3--migratedaway", "vm3--incoming"), seen.get("committing"),
                    "the source's copy gave up the name before Go: " + seen);
            assertEquals(Set.of("vm3"), pair.a.hv.names(), "one guest, under its name, once done");
            SimGuest moved = pair.a.hv.guest("vm3").orElseThrow();
            assertTrue(moved.running());
            assertTrue(moved.info().domid() != domid, "the destination's copy runs; the source's is gone");
            assertTrue(src.destroyed());
        }
    }

    @Test
    void aSameHostMigrationThatDoesNotCommitGivesTheSourceItsNameBack() throws Exception {
        try (EnginePair pair = EnginePair.oneHost(dir)) {
            SimGuest src = pair.guest("vm4", GuestType.PV, 256);
            // Go is lost on the way: in doubt; the destination never committed, so the source takes its guest back
            pair.wrapA = c -> new EnginePair.Wrapped(c) {
                @Override
                public void send(HandoverMessage message) throws IOException {
                    if (message instanceof HandoverMessage.Go) {
                        d.close();
                        throw new IOException("link cut before Go");
                    }
                    super.send(message);
                }
            };
            Map<String, Set<String>> atSource = new ConcurrentHashMap<>();
            pair.a.engine.addObserver(new MigrationObserver() {
                @Override
                public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                    try {
                        atSource.put(to.name(), new TreeSet<>(pair.a.hv.names()));
                    } catch (HypervisorException e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
            MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm4", "hostB", MigrationOptions.DEFAULTS))
                    .result().get(60, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.FAILED, r.outcome(), r.reason());
            assertTrue(atSource.get("in-doubt").contains("vm4--migratedaway"), "renamed away before Go: " + atSource);
            pair.awaitDestinationIdle();
            assertEquals(Set.of("vm4"), pair.a.hv.names(), "the source's copy has its name back, the incoming one is gone");
            assertTrue(src.running() && !src.destroyed());
        }
    }
}
