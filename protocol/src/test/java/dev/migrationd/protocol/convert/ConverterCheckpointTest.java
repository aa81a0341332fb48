package dev.migrationd.protocol.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.Marker;
import dev.migrationd.protocol.testing.XenV2Tools;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.V2Item;
import dev.migrationd.protocol.v2.V2Streams;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Checkpointed (Remus) legacy streams: our converter keeps every checkpoint (CHECKPOINT / CHECKPOINT_END), where
 * Xen's converter keeps only the first. Each checkpoint's content survives; the first checkpoint equals Xen's
 * conversion record by record; the libxc output verifies with verify-stream-v2.
 */
class ConverterCheckpointTest {

    static Stream<LegacyFixtures.Case> cases() {
        return Stream.of(
                new LegacyFixtures.Case(GuestType.PV, Width.W64, Width.W64, 3, true),
                new LegacyFixtures.Case(GuestType.HVM, Width.W64, Width.W64, 3, true),
                new LegacyFixtures.Case(GuestType.PV, Width.W32, Width.W32, 3, false),
                new LegacyFixtures.Case(GuestType.HVM, Width.W32, Width.W64, 2, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyCheckpointSurvives(LegacyFixtures.Case c) throws Exception {
        List<LegacyItem> items = LegacyFixtures.items(c, 4242 + c.hashCode());
        byte[] legacy = LegacyFixtures.write(c, items);
        List<GuestContent> want = perCheckpoint(items);
        assertEquals(c.checkpoints(), want.size());

        for (boolean libxl : new boolean[] {false, true}) {
            String what = c + (libxl ? " libxl" : " libxc");
            byte[] ours = ConvertSupport.convert(legacy, c, libxl, new Random(c.hashCode()).ints(30, 1, legacy.length)
                    .sorted().distinct().toArray());
            ConvertSupport.Decoded d = ConvertSupport.decode(ours, libxl);
            long cps = d.items().stream().filter(i -> i.equals(SignalRecord.CHECKPOINT)).count();
            assertEquals(c.lastMarker() ? c.checkpoints() - 1 : c.checkpoints(), cps, what + ": CHECKPOINT records");
            if (libxl) {
                assertEquals(cps, d.items().stream().filter(i -> i.equals(LibxlSignalRecord.CHECKPOINT_END)).count());
                // verify-stream-v2 cannot follow checkpointed libxl streams (V2XenVerifyTest): verify the libxc part
                List<V2Item> libxc = d.items().stream().filter(i -> i instanceof LibxcItem).toList();
                XenV2Tools.Result r = XenV2Tools.verifyStreamV2(V2Streams.write(libxc), "libxc");
                assertEquals(0, r.exitCode(), r.describe());
            } else {
                ConvertSupport.verify(ours, false, d.items());
            }

            List<GuestContent> got = perCheckpoint(d.items(), libxl);
            if (!libxl) {
                got.getLast().qemu = d.rawQemu(); // the libxc format keeps the last device state, after END
                for (int k = 0; k < want.size() - 1; k++) {
                    want.get(k).qemu = null;
                }
            }
            assertEquals(want.size(), got.size(), what + ": checkpoints");
            for (int k = 0; k < want.size(); k++) {
                GuestContent.assertSame(want.get(k), got.get(k), what + " checkpoint " + k);
            }
            want = perCheckpoint(items); // qemu reset above only for libxc

            // Xen converts the first checkpoint only: ours up to the first CHECKPOINT equals it up to END
            XenV2Tools.Result x = XenV2Tools.convertLegacyStream(legacy, c.toolstack(), c.guest(),
                    libxl ? "libxl" : "libxc");
            assertEquals(0, x.exitCode(), x.describe());
            List<V2Item> theirs = ConvertSupport.decode(x.output(), libxl).items().stream()
                    .filter(i -> !i.equals(SignalRecord.END)).toList();
            List<V2Item> first = d.items().subList(0, d.items().indexOf(SignalRecord.CHECKPOINT)).stream()
                    .filter(i -> !ConverterXenCompareTest.isUnmappedPfnRecord(i)).toList();
            List<V2Item> theirLibxc = theirs.stream().filter(i -> i instanceof LibxcItem).toList();
            assertEquals(theirLibxc, first.stream().filter(i -> i instanceof LibxcItem).toList(), what);
        }
    }

    static List<GuestContent> perCheckpoint(List<LegacyItem> items) {
        List<GuestContent> out = new ArrayList<>();
        GuestContent cur = new GuestContent();
        for (LegacyItem i : items) {
            cur.add(i);
            if (i instanceof CheckpointEnd) {
                out.add(cur);
                cur = new GuestContent();
            }
        }
        return out;
    }

    /** libxc: a checkpoint ends at CHECKPOINT or END; libxl: at CHECKPOINT_END or END (libxl). Empty tails dropped. */
    static List<GuestContent> perCheckpoint(List<V2Item> items, boolean libxl) {
        List<GuestContent> out = new ArrayList<>();
        GuestContent cur = new GuestContent();
        int n = 0;
        for (V2Item i : items) {
            cur.add(i, true);
            n++;
            boolean boundary = libxl ? i.equals(LibxlSignalRecord.CHECKPOINT_END) || i.equals(LibxlSignalRecord.END)
                    : i.equals(SignalRecord.CHECKPOINT) || i.equals(SignalRecord.END);
            if (boundary) {
                if (n > (libxl ? 2 : 1)) {
                    out.add(cur);
                }
                cur = new GuestContent();
                n = 0;
            }
        }
        return out;
    }

    @Test
    void unsupportedLegacyContentIsRejectedWithTheItemName() throws Exception {
        LegacyFixtures.Case c = new LegacyFixtures.Case(GuestType.HVM, Width.W64, Width.W64, 1, true);
        List<LegacyItem> items = new ArrayList<>(LegacyFixtures.items(c, 1));
        LegacyToV2Converter conv = new LegacyToV2Converter(LegacyToV2Converter.Options.of(
                LegacyToV2Converter.Format.LIBXC, Width.W64), b -> { });
        conv.setSourceOffset(1234);
        conv.accept(items.getFirst());
        StreamException e = assertThrows(StreamException.class, () -> conv.accept(
                new Marker(ChunkType.ENABLE_COMPRESSION)));
        assertInstanceOf(RecordException.class, e);
        assertEquals("XC_SAVE_ID_ENABLE_COMPRESSION (code 0xfffffff3) at offset 1234: checkpoint compression"
                + " has no v2 equivalent", e.getMessage());

        LegacyToV2Converter pv = new LegacyToV2Converter(LegacyToV2Converter.Options.of(
                LegacyToV2Converter.Format.LIBXC, Width.W64), b -> { });
        pv.accept(LegacyFixtures.items(new LegacyFixtures.Case(GuestType.PV, Width.W64, Width.W64, 1, true), 2)
                .getFirst());
        StreamException e2 = assertThrows(RecordException.class, () -> pv.accept(
                new HvmParam(ChunkType.HVM_VIRIDIAN, 1)));
        assertTrue(e2.getMessage().contains("HVM-only param in PV stream"), e2.getMessage());

        LegacyToV2Converter early = new LegacyToV2Converter(LegacyToV2Converter.Options.of(
                LegacyToV2Converter.Format.LIBXL, Width.W64), b -> { });
        early.accept(items.getFirst());
        assertThrows(RecordException.class, early::finish);
    }

    /** The item path (converter fed with items) gives the same bytes as the byte path (pipeline). */
    @Test
    void itemsAndBytesGiveTheSameOutput() throws Exception {
        LegacyFixtures.Case c = new LegacyFixtures.Case(GuestType.PV, Width.W64, Width.W64, 2, true);
        List<LegacyItem> items = LegacyFixtures.items(c, 9);
        byte[] legacy = LegacyFixtures.write(c, items);
        V2Streams.Collector out = new V2Streams.Collector();
        LegacyToV2Converter conv = new LegacyToV2Converter(LegacyToV2Converter.Options.of(
                LegacyToV2Converter.Format.LIBXL, Width.W64), out);
        for (LegacyItem i : items) {
            conv.accept(i);
        }
        conv.finish();
        ConvertSupport.assertBytes(ConvertSupport.convert(legacy, c, true), out.bytes(), "items vs bytes");
        assertTrue(conv.isEnded());
        assertEquals(2, conv.checkpoints());
        // the converter accepts a split of the legacy stream byte by byte
        ConvertSupport.assertBytes(out.bytes(), ConvertSupport.convert(legacy, c, true,
                V2Streams.everyByte(legacy.length)), "byte by byte");
    }
}
