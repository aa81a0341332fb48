package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.testing.LegacyFixtures;
import dev.migrationd.protocol.testing.RandomLegacyStream;
import dev.migrationd.protocol.testing.RandomLegacyStream.Generated;
import dev.migrationd.protocol.testing.XenTools;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Xen's own tools accept what we write: for guest {pv, hvm} × toolstack width {64, 32} (PV also guest width
 * {64, 32}), {@code convert-legacy-stream -f libxc} and {@code -f libxl} exit 0 and {@code verify-stream-v2}
 * exits 0 on each result. Missing tools fail the test (XenTools.require()).
 */
class XenToolsAcceptanceTest {
    private static final XenTools XEN = XenTools.require();

    @TempDir
    Path dir;

    static Stream<Arguments> shapes() {
        List<Arguments> a = new ArrayList<>();
        for (long seed = 1; seed <= 2; seed++) {
            for (Width w : Width.values()) {
                a.add(Arguments.of(seed, GuestType.HVM, w, null));
                for (Width gw : Width.values()) {
                    a.add(Arguments.of(seed, GuestType.PV, w, gw));
                }
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "seed {0} {1} W{2} GW{3}")
    @MethodSource("shapes")
    void convertAndVerify(long seed, GuestType g, Width w, Width gw) throws Exception {
        Generated s = RandomLegacyStream.xenCompatible(seed, g, w, gw);
        byte[] bytes = s.bytes();
        assertEquals(s.items(), LegacyFixtures.read(bytes, s.options()), "our reader on our output");
        Path in = dir.resolve("in.legacy");
        Files.write(in, bytes);
        for (String format : List.of("libxc", "libxl")) {
            Path out = dir.resolve("out." + format);
            XenTools.Result c = XEN.convertLegacy(in, out, w, g, format);
            assertEquals(0, c.exitCode(), s + "\n" + c.output());
            assertTrue(c.output().contains("Chunk: 0 - end"), c.output());
            XenTools.Result v = XEN.verifyV2(out, format);
            assertEquals(0, v.exitCode(), s + "\n" + v.output());
        }
    }

    /**
     * The oracle can say no: a duplicate PFN in a batch (written around our writer) makes Xen's converter fail. libxc's
     * restore accepts it (the later page counts), and so does our reader, with a warning.
     */
    @Test
    void converterRejectsDuplicatePfns() throws Exception {
        // HVM, W=64: p2m_size, then one batch of two NOTAB entries for pfn 1, two pages, VCPU_INFO, end, tail
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + 16 + 2 * 4096 + 16 + 4 + 24 + 4 + 1072 + 21 + 4)
                .order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(16);                               // p2m_size
        b.putInt(2).putLong(1).putLong(1);           // batch: pfn 1 twice
        b.position(b.position() + 2 * 4096);         // two zero pages
        b.putInt(LegacyFormat.XC_SAVE_ID_VCPU_INFO).putInt(0).putLong(1);
        b.putInt(0);                                 // end of body
        b.putLong(2).putLong(3).putLong(4);          // magic pfns
        b.putInt(1072).put(LegacyFixtures.minimalHvmContext(1).toArray());
        b.put(QemuSignature.DEVICE_MODEL_RECORD_0002.bytes()).putInt(0);
        assertEquals(b.capacity(), b.position());
        Path in = dir.resolve("dup.legacy");
        Files.write(in, b.array());
        XenTools.Result c = XEN.convertLegacy(in, dir.resolve("dup.out"), Width.W64, GuestType.HVM, "libxc");
        assertEquals(1, c.exitCode(), c.output());
        assertTrue(c.output().contains("Duplicate"), c.output());
        // our reader takes it, as libxc does, and says so
        java.util.List<LegacyStreamReader.Warning> warnings = new java.util.ArrayList<>();
        LegacyFixtures.read(b.array(), LegacyStreamReader.Options.of(Width.W64, GuestType.HVM).withWarnings(warnings::add));
        assertEquals(1, warnings.size(), warnings.toString());
        assertEquals(LegacyStreamReader.Leniency.DUPLICATE_PFN, warnings.getFirst().kind());
        assertEquals(8, warnings.getFirst().offset());
        assertTrue(warnings.getFirst().message().contains("pfn 0x1 stands twice"), warnings.toString());
    }
}
