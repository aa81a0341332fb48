package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Renaming a sim domain (as {@code xl rename}): the handle, the memory and the state go with it, also across a restart. */
class SimRenameTest {

    @TempDir
    Path state;

    @Test
    void aRenamedDomainKeepsItsMemoryAndStateAndTheOldNameIsFree() throws Exception {
        long hash;
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            assertTrue(hv.capabilities().contains(Capability.RENAME));
            SimDomain d = hv.create(SimDomainSpec.of("g1", 4 * SimTestSupport.MIB, 1, GuestType.PV, Width.W64,
                    WorkloadSpec.IDLE).withFill(SimDomainSpec.Fill.RANDOM));
            SimDomain other = hv.create(SimDomainSpec.of("g2", 4 * SimTestSupport.MIB, 1, GuestType.PV, Width.W64,
                    WorkloadSpec.IDLE));
            d.pause();
            hash = d.memoryHash();
            HypervisorException taken = assertThrows(HypervisorException.class, () -> d.rename("g2"));
            assertTrue(taken.getMessage().contains("a domain named g2 exists"), taken.getMessage());
            assertThrows(HypervisorException.class, () -> d.rename("bad name"));
            d.rename("g1--incoming");
            assertEquals("g1--incoming", d.info().name());
            assertTrue(hv.findDomain("g1").isEmpty());
            assertTrue(hv.findDomain("g1--incoming").isPresent());
            assertEquals(hash, d.memoryHash());
            other.destroy();
            d.rename("g2");
            assertEquals(DomainState.PAUSED, hv.simDomain("g2").info().state());
        }
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            SimDomain d = hv.simDomain("g2");
            assertEquals(hash, d.memoryHash(), "the renamed domain is found under its new name after a restart");
            assertFalse(Files.exists(state.resolve("sim/g1")));
        }
    }

    @Test
    void aRenameInterruptedBetweenItsMetadataAndItsDirectoryIsFinishedAtTheNextStart() throws Exception {
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            hv.create(SimDomainSpec.of("g3", 4 * SimTestSupport.MIB, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
        }
        // the metadata already says the new name, the directory still has the old one (a crash in between)
        Path dir = state.resolve("sim/g3");
        Path meta;
        try (var s = Files.list(dir)) {
            meta = s.filter(p -> p.getFileName().toString().endsWith(".properties")).findFirst().orElseThrow();
        }
        Properties p = new Properties();
        try (var in = Files.newInputStream(meta)) {
            p.load(in);
        }
        assertEquals("g3", p.getProperty("name"));
        p.setProperty("name", "g3--migratedaway");
        try (var out = Files.newOutputStream(meta)) {
            p.store(out, null);
        }
        try (SimHypervisor hv = SimHypervisor.open(state)) {
            assertTrue(hv.findDomain("g3--migratedaway").isPresent());
            assertTrue(hv.findDomain("g3").isEmpty());
            assertTrue(Files.isDirectory(state.resolve("sim/g3--migratedaway")));
        }
    }
}
