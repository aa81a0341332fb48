package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.testing.XenTools;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Save to a file and restore from it, through the migration's writer and applier; Xen's tools as the oracle. */
class SaveRestoreTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(GuestType.class)
    void saveThenRestoreGivesTheSameGuestAndXenAcceptsTheFile(GuestType type) throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", type, 512);
            src.hashOnPause(true);
            src.startWorkload(64, 20);
            Path file = dir.resolve("vm1.save");
            SaveResult saved = pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.LEGACY,
                    true, false, false));
            SimGuest.Snapshot saved0 = src.atPause();
            assertTrue(src.destroyed(), "saved without -c: the domain is gone");
            assertEquals(Files.size(file), saved.bytes());
            assertTrue(saved.rounds() >= 2);

            // Xen's own converter and verifier accept the file
            XenTools xen = XenTools.require();
            Path v2 = dir.resolve("vm1.v2");
            XenTools.Result conv = xen.convertLegacy(file, v2, Width.W64, type, "libxc");
            assertTrue(conv.ok(), conv.output());
            XenTools.Result ver = xen.verifyV2(v2, "libxc");
            assertTrue(ver.ok(), ver.output());

            RestoreResult restored = pair.b.engine.restore(new RestoreRequest(file, "vm1", false));
            assertEquals(saved.bytes(), restored.bytes());
            SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
            assertTrue(dst.running());
            assertEquals(saved0, dst.atStart(), "the restored guest starts from the memory and state saved");
        }
    }

    @Test
    void aSavedDomainThatCannotBeDestroyedIsReportedAndLeftPausedWithTheFileComplete() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 128);
            Path file = dir.resolve("vm1.save");
            pair.a.hv.failDestroy = "injected: the hypervisor refuses to destroy";
            try {
                EngineException e = assertThrows(EngineException.class, () -> pair.a.engine.save(
                        new SaveRequest("vm1", file, MigrationOptions.StreamFormat.LEGACY, false, false, false)));
                assertTrue(e.getMessage().contains("destroying the domain failed") && e.getMessage().contains("still exists, paused"), e.getMessage());
            } finally {
                pair.a.hv.failDestroy = null;
            }
            assertFalse(src.destroyed());
            assertFalse(src.running(), "neither resumed (the file is the guest now) nor gone");
            assertTrue(Files.size(file) > 0);
            assertTrue(Files.exists(SaveRestore.metaFile(file)));
            assertFalse(Files.exists(dir.resolve("vm1.save.partial")));
            assertFalse(Files.exists(dir.resolve("vm1.save.meta.partial")));
            // the file restores the guest once the paused copy is gone
            src.destroy();
            pair.b.engine.restore(new RestoreRequest(file, "vm1", false));
            assertTrue(pair.b.hv.guest("vm1").orElseThrow().running());
        }
    }

    @Test
    void refusesToOverwriteAndLeavesNoHalfBuiltDomain() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 128);
            Path file = dir.resolve("vm1.save");
            Files.writeString(file, "precious");
            EngineException e = assertThrows(EngineException.class, () -> pair.a.engine.save(
                    new SaveRequest("vm1", file, MigrationOptions.StreamFormat.LEGACY, false, true, false)));
            assertEquals(EngineException.Kind.ALREADY_EXISTS, e.kind());
            assertEquals("precious", Files.readString(file));
            assertTrue(src.running());

            SaveResult saved = pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.LEGACY,
                    false, true, true));
            assertTrue(src.running(), "-c: left running");
            assertEquals(1, saved.rounds());

            // a truncated copy fails with a stream error and leaves nothing behind
            Path cut = dir.resolve("cut.save");
            try (FileChannel in = FileChannel.open(file); FileChannel out = FileChannel.open(cut,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                in.transferTo(0, Files.size(file) / 2, out);
            }
            Files.copy(SaveRestore.metaFile(file), SaveRestore.metaFile(cut));
            EngineException bad = assertThrows(EngineException.class,
                    () -> pair.b.engine.restore(new RestoreRequest(cut, "copy", false)));
            assertEquals(EngineException.Kind.INVALID_ARGUMENT, bad.kind(), bad.getMessage());
            assertFalse(pair.b.hv.names().contains("copy"));

            EngineException noMeta = assertThrows(EngineException.class,
                    () -> pair.b.engine.restore(new RestoreRequest(dir.resolve("nothing"), "x", false)));
            assertEquals(EngineException.Kind.NOT_FOUND, noMeta.kind());
            EngineException clash = assertThrows(EngineException.class,
                    () -> pair.a.engine.restore(new RestoreRequest(file, "vm1", false)));
            assertEquals(EngineException.Kind.ALREADY_EXISTS, clash.kind());
        }
    }

    @Test
    void aSaveIsAnOperationWithPhasesRoundsAndAResultThatTheEngineListsAndCancels() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm2", GuestType.HVM, 2048);
            src.startWorkload(64, 20);
            EnginePair.Recorder seen = new EnginePair.Recorder();
            pair.a.engine.addObserver(seen);
            Path file = dir.resolve("vm2.save");
            MigrationHandle h = pair.a.engine.startSave(new SaveRequest("vm2", file, MigrationOptions.StreamFormat.V2,
                    true, true, false), "op-1", "key-1");
            assertEquals("op-1", h.id());
            assertEquals(Direction.SAVE, h.info().direction());
            assertEquals(file.toString(), h.info().peer());
            assertEquals(h, pair.a.engine.startSave(new SaveRequest("vm2", file, MigrationOptions.StreamFormat.V2,
                    true, true, false), "op-2", "key-1"), "the same key returns the same operation");
            MigrationResult r = h.result().get(30, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
            assertEquals(Files.size(file), r.bytes());
            assertEquals(seen.rounds.size() + 1, r.rounds(), "the live rounds, then the paused one");
            assertEquals("pre-copy/0", seen.phases.get(0), seen.phases.toString());
            assertEquals(List.of("stop-and-copy", "committing", "done"),
                    seen.phases.subList(seen.phases.size() - 3, seen.phases.size()), seen.phases.toString());
            assertTrue(src.running(), "left running as asked");
            assertTrue(pair.a.engine.list().stream().anyMatch(s -> s.info().id().equals("op-1")
                    && s.outcome().orElseThrow() == MigrationResult.Outcome.SUCCEEDED));
            assertEquals(CancelOutcome.COMPLETED_FIRST, pair.a.engine.cancel("op-1"), "too late once it has ended");
        }
    }

    @Test
    void aSaveCancelledBeforeItsCommitPointLeavesNoFileAndTheDomainRunning() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm3", GuestType.PV, 8192);
            Path file = dir.resolve("vm3.save");
            // 32 MiB at 2 MiB/s: a cancel after the first pages arrives long before the commit point
            MigrationHandle h = pair.a.engine.startSave(new SaveRequest("vm3", file, MigrationOptions.StreamFormat.LEGACY,
                    false, false, false, 2L << 20), "op-3", null);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!(h.phase() instanceof MigrationPhase.StopAndCopy) || !Files.exists(file.resolveSibling("vm3.save.partial"))) {
                assertTrue(System.nanoTime() < deadline, "the save never started writing: " + h.phase());
                Thread.sleep(5);
            }
            EngineException busy = assertThrows(EngineException.class, () -> pair.a.engine.startSave(new SaveRequest("vm3",
                    dir.resolve("other.save"), MigrationOptions.StreamFormat.LEGACY, false, false, false), "op-4", null));
            assertTrue(busy instanceof EngineException.DomainBusyException, busy.toString());
            assertEquals(CancelOutcome.CANCELLED, pair.a.engine.cancel("op-3"));
            MigrationResult r = h.result().get(30, TimeUnit.SECONDS);
            assertEquals(MigrationResult.Outcome.CANCELLED, r.outcome(), r.reason());
            assertTrue(h.phase() instanceof MigrationPhase.Cancelled, h.phase().name());
            assertTrue(src.running() && !src.destroyed(), "the domain runs as before");
            assertFalse(Files.exists(file) || Files.exists(file.resolveSibling("vm3.save.partial"))
                    || Files.exists(SaveRestore.metaFile(file)), "no file is left");
            // the synchronous call reports the same end
            MigrationHandle again = pair.a.engine.startSave(new SaveRequest("vm3", file, MigrationOptions.StreamFormat.LEGACY,
                    false, false, false), "op-5", null);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, again.result().get(30, TimeUnit.SECONDS).outcome());
            assertTrue(src.destroyed(), "saved without leave-running: destroyed after the commit point");
        }
    }

    @Test
    void aRestoreCancelledBeforeItsCommitPointLeavesNoDomain() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            pair.guest("vm4", GuestType.HVM, 8192);
            Path file = dir.resolve("vm4.save");
            pair.a.engine.save(new SaveRequest("vm4", file, MigrationOptions.StreamFormat.LEGACY, false, true, false));
            MigrationHandle h = pair.b.engine.startRestore(new RestoreRequest(file, "vm4", false), "op-6", null);
            assertEquals(Direction.RESTORE, h.info().direction());
            // cancelled at once: at the latest it is seen at the commit point, before the domain runs
            CancelOutcome c = pair.b.engine.cancel("op-6");
            MigrationResult r = h.result().get(30, TimeUnit.SECONDS);
            if (c == CancelOutcome.CANCELLED) {
                assertEquals(MigrationResult.Outcome.CANCELLED, r.outcome(), r.reason());
                assertFalse(pair.b.hv.names().contains("vm4"), "no domain is left behind");
            } else {
                assertEquals(CancelOutcome.COMPLETED_FIRST, c);
                assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome());
                assertTrue(pair.b.hv.guest("vm4").orElseThrow().running());
            }
            MigrationHandle again = pair.b.engine.startRestore(new RestoreRequest(file, "vm4b", false), "op-7", null);
            assertEquals(MigrationResult.Outcome.SUCCEEDED, again.result().get(30, TimeUnit.SECONDS).outcome());
            assertTrue(pair.b.hv.guest("vm4b").orElseThrow().running());
        }
    }
}
