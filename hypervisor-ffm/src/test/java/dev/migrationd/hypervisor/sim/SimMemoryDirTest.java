package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where sim guest memory lives: in RAM (a shared-memory directory per state directory), never in the state directory. */
class SimMemoryDirTest {

    @TempDir
    Path base;

    private Path state(String name) {
        return base.resolve(name);
    }

    /** A stand-in for /dev/shm (same code path; the tests of the real /dev/shm are marked as such). */
    private Path shm() throws Exception {
        return Files.createDirectories(base.resolve("shm"));
    }

    private static SimDomainSpec small(String name) {
        return SimDomainSpec.of(name, 8 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE)
                .withFill(SimDomainSpec.Fill.RANDOM);
    }

    private static String key(Path state) throws Exception {
        Properties p = new Properties();
        try (var r = Files.newBufferedReader(state.resolve("sim/" + SimHypervisor.HOST_FILE), StandardCharsets.ISO_8859_1)) {
            p.load(r);
        }
        return p.getProperty(SimMemoryDir.KEY_PROPERTY);
    }

    private static List<Path> memoryDirs(Path shm) throws Exception {
        try (Stream<Path> s = Files.list(shm)) {
            return s.filter(p -> p.getFileName().toString().startsWith(SimMemoryDir.DIR_PREFIX)).toList();
        }
    }

    @Test
    void onTheRealDevShmGuestMemoryIsThereAndNotInTheStateDirectoryAndADestroyRemovesIt() throws Exception {
        Path state = state("a");
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.create(small("g"));
            Path file = d.memoryFile();
            assertEquals(SimMemoryDir.DEFAULT_SHM.resolve(SimMemoryDir.DIR_PREFIX + key(state)), file.getParent());
            assertEquals(8 * SimTestSupport.MIB, Files.size(file));
            assertEquals(state.resolve("sim").toAbsolutePath().normalize() + "\n" + SimMemoryDir.mountNamespace() + "\n",
                    Files.readString(file.resolveSibling(SimMemoryDir.OWNER_FILE)));
            assertTrue(SimMemoryDir.mountNamespace().startsWith("mnt:["), SimMemoryDir.mountNamespace());
            try (Stream<Path> s = Files.walk(state)) {
                assertTrue(s.noneMatch(p -> p.getFileName().toString().equals(SimDomain.LEGACY_MEMORY_FILE)),
                        "no guest memory in the state directory");
            }
            long hash = d.memoryHash();
            assertTrue(Files.exists(file));
            d.destroy();
            assertFalse(Files.exists(file), "a destroyed domain's memory file is gone at once");
            hv.awaitReaped();
            SimDomain r = (SimDomain) hv.createForRestore(new DomainShape("r", UUID.randomUUID(), 2048, 1, GuestType.HVM, Width.W64));
            assertNotEquals(file, r.memoryFile(), "a new domain gets a new domid and file");
            r.destroy();
            assertFalse(Files.exists(r.memoryFile()));
            assertNotEquals(0, hash);
        }
        Path dir = SimMemoryDir.DEFAULT_SHM.resolve(SimMemoryDir.DIR_PREFIX + key(state));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(SimMemoryDir.OWNER_FILE), s.map(p -> p.getFileName().toString()).toList(),
                    "only the owner file is left once every domain is destroyed");
        }
        // the test's state directory is about to go: the next open anywhere on the host removes its memory directory
        SimTestSupport.deleteTree(state);
        try (SimHypervisor other = SimHypervisor.open(state("b"))) {
            assertFalse(Files.exists(dir), "stale memory directory removed");
        }
    }

    @Test
    void aRestartedHypervisorMapsTheSameMemoryAndTwoStateDirectoriesNeverShareIt() throws Exception {
        Path shm = shm();
        long hash;
        Path file;
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm); SimHypervisor b = SimHypervisor.open(state("b"), shm)) {
            SimDomain ga = a.create(small("g"));
            SimDomain gb = b.create(small("g"));
            assertEquals(ga.domid(), gb.domid(), "both hosts hand out the same first domid");
            assertNotEquals(ga.memoryFile(), gb.memoryFile());
            assertNotEquals(ga.memoryHash(), gb.memoryHash(), "two guests, two random fills");
            hash = ga.memoryHash();
            file = ga.memoryFile();
            gb.destroy();
        }
        assertEquals(2, memoryDirs(shm).size());
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            SimDomain g = a.simDomain("g");
            assertEquals(file, g.memoryFile());
            assertEquals(hash, g.memoryHash(), "the guest's memory survived the restart");
        }
    }

    @Test
    void aCopiedStateDirectoryDoesNotAdoptTheOriginalsMemory() throws Exception {
        Path shm = shm();
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            a.create(small("g"));
        }
        SimTestSupport.copyTree(state("a"), state("copy"));
        HypervisorException e = assertThrows(HypervisorException.class, () -> SimHypervisor.open(state("copy"), shm));
        assertTrue(e.getMessage().contains("belongs to the state directory " + state("a").resolve("sim").toAbsolutePath()),
                e.getMessage());
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            assertTrue(a.findDomain("g").isPresent(), "the original is untouched");
        }
    }

    @Test
    void aStateDirectoryWithANewKeyOrNoneIsNoLongerTheOwnerAndItsOldMemoryIsRemoved() throws Exception {
        Path shm = shm();
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            a.create(small("g"));
        }
        Path old = memoryDirs(shm).getFirst();
        // a state directory that was wiped and made again at the same path has another key
        SimTestSupport.deleteTree(state("a"));
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            assertTrue(a.listDomains().isEmpty());
            assertFalse(Files.exists(old), "the wiped directory's memory was not adopted but removed");
            assertEquals(1, memoryDirs(shm).size());
        }
    }

    @Test
    void memoryMadeInAnotherMountNamespaceIsNeverJudgedStale() throws Exception {
        Path shm = shm();
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            a.create(small("g"));
        }
        Path dir = memoryDirs(shm).getFirst();
        Path owner = dir.resolve(SimMemoryDir.OWNER_FILE);
        // as a daemon with a private /tmp would have written it: its path means nothing in this namespace
        Files.writeString(owner, state("a").resolve("sim").toAbsolutePath() + "\nmnt:[1]\n");
        SimTestSupport.deleteTree(state("a"));
        try (SimHypervisor b = SimHypervisor.open(state("b"), shm)) {
            assertTrue(Files.exists(dir), "left alone");
        }
        Files.writeString(owner, state("a").resolve("sim").toAbsolutePath() + "\n" + SimMemoryDir.mountNamespace() + "\n");
        try (SimHypervisor b = SimHypervisor.open(state("b"), shm)) {
            assertFalse(Files.exists(dir), "stale in this namespace: removed");
        }
    }

    @Test
    void aDomainWhoseMemoryIsGoneIsDroppedAsAfterAHostReboot() throws Exception {
        Path shm = shm();
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            a.create(small("lost"));
            a.create(small("kept"));
            Files.delete(a.simDomain("lost").memoryFile());
        }
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            assertEquals(List.of("kept"), a.listDomains().stream().map(i -> i.name()).toList());
            assertFalse(Files.exists(state("a").resolve("sim/lost")), "its metadata went with it");
        }
    }

    @Test
    void memoryOfABuildOrDestroyCutShortIsRemovedAtTheNextOpen() throws Exception {
        Path shm = shm();
        Path dir;
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            dir = a.create(small("g")).memoryFile().getParent();
        }
        // a daemon killed in the middle of a create: its .creating- directory and a memory file of an unknown domid
        Files.createDirectories(state("a").resolve("sim/" + SimHypervisor.CREATING_PREFIX + "half"));
        Path orphan = dir.resolve("77" + SimMemoryDir.MEMORY_SUFFIX);
        Files.write(orphan, new byte[4096]);
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            assertFalse(Files.exists(orphan));
            assertTrue(Files.exists(a.simDomain("g").memoryFile()), "the live domain's memory stays");
        }
    }

    @Test
    void aDomainFromBeforeTheSharedMemoryDirectoryKeepsItsMemoryFileInTheStateDirectory() throws Exception {
        Path shm = shm();
        long hash;
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            SimDomain g = a.create(small("g"));
            hash = g.memoryHash();
            // as an older version left it: memory in <name>/memory
            Files.copy(g.memoryFile(), state("a").resolve("sim/g/" + SimDomain.LEGACY_MEMORY_FILE));
        }
        try (SimHypervisor a = SimHypervisor.open(state("a"), shm)) {
            SimDomain g = a.simDomain("g");
            assertEquals(state("a").resolve("sim/g/" + SimDomain.LEGACY_MEMORY_FILE), g.memoryFile());
            assertEquals(hash, g.memoryHash());
            assertTrue(memoryDirs(shm).stream().allMatch(d -> !Files.exists(d.resolve(g.domid() + SimMemoryDir.MEMORY_SUFFIX))),
                    "the unused copy in the memory directory is an orphan and removed");
            g.destroy();
        }
    }

    @Test
    void aBadKeyInHostPropertiesIsRefusedByName() throws Exception {
        Path shm = shm();
        Files.createDirectories(state("a").resolve("sim"));
        Files.writeString(state("a").resolve("sim/" + SimHypervisor.HOST_FILE), "nextDomid=3\nmemoryKey=../../etc\n");
        HypervisorException e = assertThrows(HypervisorException.class, () -> SimHypervisor.open(state("a"), shm));
        assertTrue(e.getMessage().contains("memoryKey is not 32 lower-case hex digits"), e.getMessage());
    }
}
