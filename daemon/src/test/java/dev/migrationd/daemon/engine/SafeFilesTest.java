package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.file.FilePolicy;
import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.Throttle;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Files written and read on the operator's behalf: a symbolic link planted at the temporary path, the
 * target or the {@code .meta} file is never followed (its target is unchanged), nothing is written in
 * the state directory or outside {@code save-dirs}, a destroy that fails after a save is retried and
 * reported, and one saved guest cannot be restored into two running copies with the same UUID.
 */
class SafeFilesTest {

    @TempDir
    Path dir;

    static SaveRequest save(Path file, boolean force) {
        return new SaveRequest("vm1", file, MigrationOptions.StreamFormat.LEGACY, false, false, force);
    }

    @ParameterizedTest(name = "symlink at {0}")
    @ValueSource(strings = {"vm1.save.partial", "vm1.save", "vm1.save.meta", "vm1.save.meta.partial"})
    void aPlantedSymlinkIsNeverFollowed(String where) throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 128);
            Path victim = dir.resolve("victim");
            Files.writeString(victim, "precious");
            Path file = dir.resolve("vm1.save");
            Files.createSymbolicLink(dir.resolve(where), victim);
            for (boolean force : new boolean[] {false, true}) {
                EngineException e = assertThrows(EngineException.class, () -> pair.a.engine.save(save(file, force)));
                assertTrue(e.getMessage().contains(dir.resolve(where).toString()), "names the link: " + e.getMessage());
                assertEquals("precious", Files.readString(victim), "the symlink's target is unchanged");
                assertTrue(Files.isSymbolicLink(dir.resolve(where)), "the link itself is left alone");
                assertTrue(src.running(), "the guest runs on");
            }
        }
    }

    @Test
    void nothingIsWrittenInTheStateDirectoryOrOutsideSaveDirs() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 128);
            EngineException inState = assertThrows(EngineException.class,
                    () -> pair.a.engine.save(save(pair.a.stateDir.resolve("journal-overwrite"), true)));
            assertEquals(EngineException.Kind.PERMISSION_DENIED, inState.kind());
            assertTrue(inState.getMessage().contains("inside the daemon's state directory"), inState.getMessage());
            // a directory link into the state directory does not get around it
            Path sneaky = dir.resolve("sneaky");
            Files.createSymbolicLink(sneaky, pair.a.stateDir);
            assertEquals(EngineException.Kind.PERMISSION_DENIED, assertThrows(EngineException.class,
                    () -> pair.a.engine.save(save(sneaky.resolve("x.save"), true))).kind());
            assertTrue(src.running());

            Path saves = Files.createDirectories(dir.resolve("saves"));
            FilePolicy policy = new FilePolicy(pair.a.stateDir, List.of(saves));
            EngineException outside = assertThrows(EngineException.class, () -> SaveRestore.save(pair.a.hv, Ticker.SYSTEM,
                    save(dir.resolve("elsewhere.save"), false), policy));
            assertTrue(outside.getMessage().contains("outside the directories save and restore may use (save-dirs: " + saves),
                    outside.getMessage());
            SaveRestore.save(pair.a.hv, Ticker.SYSTEM, save(saves.resolve("vm1.save"), false), policy);
            assertTrue(src.destroyed());
            assertTrue(Files.exists(saves.resolve("vm1.save")) && Files.exists(saves.resolve("vm1.save.meta")));
            assertFalse(Files.exists(saves.resolve("vm1.save.partial")) || Files.exists(saves.resolve("vm1.save.meta.partial")),
                    "no temporary file left");
            EngineException readOutside = assertThrows(EngineException.class, () -> SaveRestore.restore(pair.b.hv, Ticker.SYSTEM,
                    new RestoreRequest(dir.resolve("victim"), "x", false), policy));
            assertTrue(readOutside.kind() == EngineException.Kind.PERMISSION_DENIED
                    || readOutside.kind() == EngineException.Kind.NOT_FOUND, readOutside.getMessage());
        }
    }

    @Test
    void restoringOneSavedGuestTwiceNeedsANewUuid() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            pair.guest("vm1", GuestType.HVM, 128);
            Path file = dir.resolve("vm1.save");
            pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.LEGACY, false, false, false));
            pair.b.engine.restore(new RestoreRequest(file, "vm1", false));
            EngineException twice = assertThrows(EngineException.class,
                    () -> pair.b.engine.restore(new RestoreRequest(file, "vm1-again", false)));
            assertEquals(EngineException.Kind.ALREADY_EXISTS, twice.kind());
            assertTrue(twice.getMessage().contains("would run two copies of one guest (use --new-uuid"), twice.getMessage());
            assertFalse(pair.b.hv.names().contains("vm1-again"));

            pair.b.engine.restore(new RestoreRequest(file, "vm1-copy", false, true));
            DomainInfo original = pair.b.hv.domain("vm1").info();
            DomainInfo copy = pair.b.hv.domain("vm1-copy").info();
            assertNotEquals(original.uuid(), copy.uuid(), "the copy is a new guest");
        }
    }

    @Test
    void aDestroyThatFailsAfterTheSaveIsRetriedAndReportedNotClaimedDone() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            SimGuest src = pair.guest("vm1", GuestType.HVM, 128);
            AtomicInteger attempts = new AtomicInteger();
            Hypervisor failing = new FailingDestroy(pair.a.hv, attempts);
            Path file = dir.resolve("vm1.save");
            EngineException e = assertThrows(EngineException.class, () -> SaveRestore.save(failing, Ticker.SYSTEM,
                    save(file, false), new FilePolicy(pair.a.stateDir, List.of())));
            assertTrue(e.getMessage().contains("saved vm1 to " + file.toRealPath() + ", but destroying the domain failed after 3 attempts"),
                    e.getMessage());
            assertEquals(3, attempts.get(), "retried");
            assertFalse(src.destroyed(), "still there, and said so");
            assertTrue(Files.size(file) > 0 && Files.exists(SaveRestore.metaFile(file)), "the file is complete");
        }
    }

    /** The host's hypervisor, whose domains cannot be destroyed. */
    private record FailingDestroy(Hypervisor hv, AtomicInteger attempts) implements Hypervisor {
        @Override
        public String backend() {
            return hv.backend();
        }

        @Override
        public Set<Capability> capabilities() {
            return hv.capabilities();
        }

        @Override
        public List<DomainInfo> listDomains() throws HypervisorException {
            return hv.listDomains();
        }

        @Override
        public Optional<Domain> findDomain(String name) throws HypervisorException {
            return hv.findDomain(name).map(this::wrap);
        }

        @Override
        public Optional<Domain> findDomain(int domid) throws HypervisorException {
            return hv.findDomain(domid).map(this::wrap);
        }

        @Override
        public Domain createForRestore(DomainShape shape) throws HypervisorException {
            return hv.createForRestore(shape);
        }

        @Override
        public void close() {
        }

        private Domain wrap(Domain d) {
            return new Domain() {
                @Override
                public DomainInfo info() throws HypervisorException {
                    return d.info();
                }

                @Override
                public void pause() throws HypervisorException {
                    d.pause();
                }

                @Override
                public void resume() throws HypervisorException {
                    d.resume();
                }

                @Override
                public void destroy() throws HypervisorException {
                    attempts.incrementAndGet();
                    throw new HypervisorException("destroy", "vm1", "device busy");
                }

                @Override
                public DirtyLog dirtyLog() {
                    return d.dirtyLog();
                }

                @Override
                public GuestMemory memory() {
                    return d.memory();
                }

                @Override
                public PlatformState platform() {
                    return d.platform();
                }

                @Override
                public Optional<Throttle> throttle() {
                    return d.throttle();
                }
            };
        }
    }
}
