package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An HVM context comes from a peer: every truncation is refused, and random corruption is either refused
 * with a HypervisorException or passed to Xen unchanged (Xen's loader checks the record contents) — never
 * another exception.
 */
class HvmContextValidationTest {

    private final FakeXen xen = new FakeXen();
    private final FakeXen.Dom dom = xen.addHvm("vm", 0x1000, 1);

    private PlatformState platform() throws HypervisorException {
        return xen.hypervisor().domain("vm").platform();
    }

    @Test
    void everyTruncationIsRefused() throws Exception {
        byte[] good = XenPlatformStateTest.context(1032);
        PlatformState p = platform();
        for (int n = 0; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            assertThrows(HypervisorException.class, () -> p.setHvmContext(cut), "length " + n);
        }
        p.setHvmContext(good);
        assertArrayEquals(good, dom.hvmContext);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void corruptionIsRefusedOrPassedThroughUnchanged(long seed) throws Exception {
        SplittableRandom r = new SplittableRandom(seed);
        PlatformState p = platform();
        for (int round = 0; round < 500; round++) {
            byte[] blob = XenPlatformStateTest.context(r.nextInt(2) == 0 ? 1032 : 1024);
            int flips = 1 + r.nextInt(4);
            for (int i = 0; i < flips; i++) {
                int at = r.nextInt(blob.length < 48 ? blob.length : r.nextInt(3) == 0 ? blob.length : 48);
                blob[at] = (byte) r.nextInt(256);
            }
            try {
                p.setHvmContext(blob);
                assertArrayEquals(blob, dom.hvmContext);
            } catch (HypervisorException expected) {
                // refused before Xen saw it
            }
        }
    }
}
