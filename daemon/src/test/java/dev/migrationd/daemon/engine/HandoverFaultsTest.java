package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.journal.JournalReader;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A step of the hand-over that must happen keeps failing on the hypervisor — the destination cannot unpause
 * the guest it committed, a copy that must go cannot be destroyed — and the engine neither gives up on it nor
 * journals it as done: it retries, raises the operator alert, and finishes once the host works again.
 */
class HandoverFaultsTest {

    @TempDir
    Path dir;
    EnginePair pair;
    final EnginePair.Recorder onA = new EnginePair.Recorder();
    final EnginePair.Recorder onB = new EnginePair.Recorder();

    @BeforeEach
    void setUp() throws Exception {
        pair = new EnginePair(dir);
        pair.a.engine.addObserver(onA);
        pair.b.engine.addObserver(onB);
    }

    @AfterEach
    void tearDown() {
        pair.a.hv.failDestroy = null;
        pair.b.hv.failDestroy = null;
        pair.b.hv.failResume = null;
        pair.close();
    }

    private static void await(BooleanSupplier cond, String what) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException(what);
            }
            Thread.sleep(20);
        }
    }

    private static List<Journal.State> states(Path stateDir, Journal.Role role, String id) throws Exception {
        return JournalReader.read(Files.readAllBytes(stateDir.resolve(Journal.FILE_NAME))).entries().stream()
                .filter(e -> e.role() == role && e.id().equals(id)).map(Journal.Entry::state).toList();
    }

    @Test
    void aDestinationThatCannotUnpauseAfterCommittedKeepsTryingAndAlertsWhileTheSourceDestroysItsCopy() throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.HVM, 256);
        pair.b.hv.failResume = "injected: the hypervisor refuses to unpause";
        MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS));
        String id = h.id();
        await(() -> onB.attentions.contains(id + " UNPAUSE_FAILED raised"), "the destination alerts");
        // no Running: the source is in doubt, asks, hears COMMITTED (durable) and destroys its copy
        MigrationResult r = h.result().get(60, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.toString());
        assertTrue(src.destroyed());
        SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
        assertFalse(dst.running(), "still paused: the fault holds");
        assertEquals(Journal.State.COMMITTED, states(pair.b.stateDir, Journal.Role.DESTINATION, id).getLast());

        pair.b.hv.failResume = null; // the host is fixed
        await(dst::running, "the destination's retries unpause the guest");
        await(() -> onB.attentions.contains(id + " UNPAUSE_FAILED cleared"), "the alert clears");
        await(() -> {
            try {
                return states(pair.b.stateDir, Journal.Role.DESTINATION, id).getLast() == Journal.State.DONE;
            } catch (Exception e) {
                return false;
            }
        }, "DONE journaled once the guest runs");
    }

    @Test
    void aSourceCopyThatCannotBeDestroyedIsRetriedAndNotJournaledDoneUntilItIsGone() throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.HVM, 256);
        pair.a.hv.failDestroy = "injected: the hypervisor refuses to destroy";
        MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS));
        String id = h.id();
        await(() -> onA.attentions.contains(id + " DESTROY_FAILED raised"), "the source alerts");
        assertFalse(h.result().isDone(), "not over while the copy is there");
        assertEquals(Journal.State.COMMITTING, states(pair.a.stateDir, Journal.Role.SOURCE, id).getLast(),
                "never DONE while the source copy exists");
        assertTrue(pair.b.hv.guest("vm1").orElseThrow().running(), "the guest runs on the destination meanwhile");
        assertFalse(src.running(), "the source copy stays paused");

        pair.a.hv.failDestroy = null;
        MigrationResult r = h.result().get(30, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome());
        assertTrue(src.destroyed());
        assertEquals(Journal.State.DONE, states(pair.a.stateDir, Journal.Role.SOURCE, id).getLast());
        await(() -> onA.attentions.contains(id + " DESTROY_FAILED cleared"), "the alert clears");
    }

    @Test
    void aPartialDomainThatCannotBeDestroyedIsNotJournaledFailedUntilItIsGone() throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.HVM, 256);
        pair.b.hv.failCompleteRestore = "injected end-of-restore failure";
        pair.b.hv.failDestroy = "injected: the hypervisor refuses to destroy";
        try {
            MigrationHandle h = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", MigrationOptions.DEFAULTS));
            String id = h.id();
            MigrationResult r = h.result().get(30, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
            assertTrue(src.running(), "the source resumed: the destination never saw Go");
            await(() -> onB.attentions.contains(id + " DESTROY_FAILED raised"), "the destination alerts");
            assertEquals(Journal.State.ACCEPTED, states(pair.b.stateDir, Journal.Role.DESTINATION, id).getLast(),
                    "FAILED means the copy is gone: not written while it is there");
            assertFalse(pair.b.hv.guest("vm1").orElseThrow().running());

            pair.b.hv.failDestroy = null;
            await(() -> {
                try {
                    return pair.b.hv.guest("vm1").isEmpty();
                } catch (Exception e) {
                    return false;
                }
            }, "destroyed once the host lets it");
            await(() -> {
                try {
                    return states(pair.b.stateDir, Journal.Role.DESTINATION, id).getLast() == Journal.State.FAILED;
                } catch (Exception e) {
                    return false;
                }
            }, "FAILED journaled once the copy is gone");
        } finally {
            pair.b.hv.failCompleteRestore = null;
        }
    }
}
