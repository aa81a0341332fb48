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
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.testing.XenTools;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
                assertTrue(e.getMessage().contains("is complete in") && e.getMessage().contains("left paused"), e.getMessage());
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
}
