package dev.migrationd.protocol.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.CompressedData;
import dev.migrationd.protocol.legacy.Marker;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.Tmem;
import dev.migrationd.protocol.legacy.TmemExtra;
import dev.migrationd.protocol.testing.RandomLegacyStream;
import dev.migrationd.protocol.testing.XenV2Tools;
import dev.migrationd.protocol.v2.V2Item;
import dev.migrationd.protocol.v2.V2Streams;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The legacy helper's random streams (every chunk kind, checkpoints, TMEM, compression, verify mode, xend QEMU
 * records) through our converter: each converts with every checkpoint's content intact, or fails with a
 * RecordException naming content v2 cannot carry (TMEM, compressed checkpoints). Xen-compatible ones also equal
 * Xen's conversion byte for byte once the XTAB addition is removed.
 */
class ConverterRandomStreamsTest {

    static LongStream seeds() {
        return LongStream.range(0, 150);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void convertsWithContentIntactOrRejectsWhatV2CannotCarry(long seed) throws Exception {
        RandomLegacyStream.Generated g = RandomLegacyStream.generate(seed);
        byte[] legacy = g.bytes();
        boolean unsupported = g.items().stream().anyMatch(i -> i instanceof Tmem
                || i instanceof TmemExtra || i instanceof CompressedData
                || (i instanceof PageBatch b && b.pfnsOnly())
                || (i instanceof Marker m && m.type() == ChunkType.ENABLE_COMPRESSION));
        for (boolean libxl : new boolean[] {false, true}) {
            String what = g + (libxl ? " libxl" : " libxc");
            byte[] out;
            try {
                out = ConvertSupport.convert(legacy, g.options(), libxl);
            } catch (RecordException e) {
                assertTrue(unsupported, what + ": " + e.getMessage());
                assertTrue(e.getMessage().matches(".*(TMEM|compress|Format B).*"), e.getMessage());
                continue;
            }
            assertTrue(!unsupported, what + ": converted a stream with content v2 cannot carry");
            ConvertSupport.Decoded d = ConvertSupport.decode(out, libxl);
            List<GuestContent> want = ConverterCheckpointTest.perCheckpoint(g.items());
            List<GuestContent> got = ConverterCheckpointTest.perCheckpoint(d.items(), libxl);
            if (!libxl) {
                if (!got.isEmpty()) {
                    got.getLast().qemu = d.rawQemu();
                }
                for (int k = 0; k < want.size() - 1; k++) {
                    want.get(k).qemu = null;
                }
            }
            assertEquals(want.size(), got.size(), what + ": checkpoints");
            for (int k = 0; k < want.size(); k++) {
                GuestContent.assertSame(want.get(k), got.get(k), what + " checkpoint " + k);
            }
        }
    }

    static Stream<Arguments> xenCompatible() {
        List<Arguments> out = new ArrayList<>();
        long seed = 500;
        for (Width w : Width.values()) {
            for (Width gw : Width.values()) {
                out.add(Arguments.of(seed++, GuestType.PV, w, gw));
            }
            out.add(Arguments.of(seed++, GuestType.HVM, w, null));
            out.add(Arguments.of(seed++, GuestType.HVM, w, null));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "seed {0} {1} W{2} GW{3}")
    @MethodSource("xenCompatible")
    void xenCompatibleStreamsEqualXensConversion(long seed, GuestType guest, Width w, Width gw) throws Exception {
        RandomLegacyStream.Generated g = RandomLegacyStream.xenCompatible(seed, guest, w, gw);
        byte[] legacy = g.bytes();
        for (boolean libxl : new boolean[] {false, true}) {
            String what = g + (libxl ? " libxl" : " libxc");
            XenV2Tools.Result x = XenV2Tools.convertLegacyStream(legacy, w, guest, libxl ? "libxl" : "libxc");
            assertEquals(0, x.exitCode(), x.describe());
            byte[] ours = ConvertSupport.convert(legacy, g.options(), libxl);
            ConvertSupport.Decoded mine = ConvertSupport.decode(ours, libxl);
            ConvertSupport.verify(ours, libxl, mine.items());
            List<V2Item> stripped = mine.items().stream()
                    .filter(i -> !ConverterXenCompareTest.isUnmappedPfnRecord(i)).toList();
            byte[] rebuilt = V2Streams.write(stripped);
            byte[] withTail = new byte[rebuilt.length + mine.rawTail().length];
            System.arraycopy(rebuilt, 0, withTail, 0, rebuilt.length);
            System.arraycopy(mine.rawTail(), 0, withTail, rebuilt.length, mine.rawTail().length);
            ConvertSupport.assertBytes(x.output(), withTail, what);
        }
    }
}
