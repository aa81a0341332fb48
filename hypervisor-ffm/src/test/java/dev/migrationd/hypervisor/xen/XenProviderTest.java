package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.HypervisorProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Off a Xen dom0 the backend fails at once with one clear line, and never falls back. */
class XenProviderTest {

    @TempDir
    Path state;

    @Test
    void offDom0TheErrorIsOneClearLine() {
        XenProvider p = new XenProvider(state.resolve("no-privcmd"));
        HypervisorException e = assertThrows(HypervisorException.class, () -> p.open(state));
        assertEquals("backend xen: this host is not a Xen dom0 (" + state.resolve("no-privcmd")
                + " not found); run migrationd on a Xen dom0, or use --backend sim", e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void onThisHostTheServiceLoaderFindsXenAndItRefusesWithTheSameLine() {
        boolean found = ServiceLoader.load(HypervisorProvider.class).stream()
                .anyMatch(p -> p.type() == XenProvider.class);
        assertTrue(found, "META-INF/services registers XenProvider");
        if (Files.exists(XenProvider.PRIVCMD)) {
            return; // a real dom0: opening may succeed
        }
        HypervisorException e = assertThrows(HypervisorException.class, () -> HypervisorProvider.open("xen", state));
        assertEquals("backend xen: this host is not a Xen dom0 (/dev/xen/privcmd not found); run migrationd on a Xen dom0,"
                + " or use --backend sim", e.getMessage());
    }
}
