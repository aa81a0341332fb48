package dev.migrationd.protocol.synth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.CheckpointCompression;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.CompressedData;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.testing.XenTools;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxlReader;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.V2Item;
import dev.migrationd.protocol.x86.HvmContext;
import dev.migrationd.protocol.x86.PvVcpuContext;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class StreamSynthTest {

    /** Every guest/toolstack/guest-width combination, single and multi checkpoint (not compressed). */
    static Stream<Arguments> legacyCombinations() {
        List<Arguments> out = new ArrayList<>();
        for (Width tw : Width.values()) {
            for (int k : new int[] {1, 3}) {
                out.add(Arguments.of(GuestType.HVM, tw, Width.W64, k));
                for (Width gw : Width.values()) {
                    out.add(Arguments.of(GuestType.PV, tw, gw, k));
                }
            }
        }
        return out.stream();
    }

    private static SynthOptions opts(GuestType g, Width tw, Width gw, int k, long pages) {
        return new SynthOptions(g, tw, gw, pages, 42, k, false, SynthOptions.Format.LEGACY, 2);
    }

    @ParameterizedTest(name = "{0} toolstack {1} guest {2} checkpoints {3}")
    @MethodSource("legacyCombinations")
    void legacyStreamIsAcceptedByXensToolsAndReadsBack(GuestType g, Width tw, Width gw, int k, @TempDir Path dir)
            throws Exception {
        SynthOptions o = opts(g, tw, gw, k, 1300); // > 1024: two batches; HVM: spans the VGA hole
        byte[] stream = StreamSynth.toBytes(o);
        Path in = dir.resolve("in.legacy");
        Files.write(in, stream);
        XenTools xen = XenTools.require();
        for (String f : new String[] {"libxc", "libxl"}) {
            Path out = dir.resolve("out." + f);
            XenTools.Result c = xen.convertLegacy(in, out, tw, g, f);
            assertTrue(c.ok(), "convert-legacy-stream -f " + f + " failed:\n" + c.output());
            XenTools.Result v = xen.verifyV2(out, f);
            assertTrue(v.ok(), "verify-stream-v2 -f " + f + " failed:\n" + v.output());
        }
        checkLegacyReadBack(o, stream);
    }

    /** Reads the stream with the legacy reader (width and guest type detected) and compares with the model. */
    private static void checkLegacyReadBack(SynthOptions o, byte[] stream) throws Exception {
        SynthGuest g = new SynthGuest(o);
        Map<Long, byte[]> memory = new HashMap<>();
        Map<Long, PageType> types = new HashMap<>();
        List<LegacyItem> items = new ArrayList<>();
        int[] checkpoints = {0};
        List<long[]> formatBPfns = new ArrayList<>();
        LegacyStreamReader r = new LegacyStreamReader(
                LegacyStreamReader.Options.detect().withCheckpointed(o.checkpoints() > 1), item -> {
                    if (item instanceof PageBatch b) {
                        for (int i = 0; i < b.count(); i++) {
                            types.put(b.pfn(i), b.type(i));
                            if (b.pfnsOnly()) {
                                formatBPfns.add(new long[] {b.pfn(i)});
                            } else if (b.hasData(i)) {
                                ByteBuffer p = b.page(i);
                                byte[] a = new byte[StreamLimits.PAGE_SIZE];
                                p.get(a);
                                memory.put(b.pfn(i), a);
                            }
                        }
                    } else if (item instanceof CompressedData cd) {
                        CheckpointCompression.Decoder d = new CheckpointCompression.Decoder(
                                idx -> ByteBuffer.wrap(memory.get(formatBPfns.get((int) idx)[0])));
                        try {
                            d.feed(cd.data().asByteBuffer(), formatBPfns.size());
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                        formatBPfns.subList(0, (int) d.pagesDecoded()).clear();
                    } else if (item instanceof CheckpointEnd) {
                        checkpoints[0]++;
                    } else {
                        items.add(item);
                    }
                });
        r.feed(ByteBuffer.wrap(stream));
        r.finish();
        assertTrue(r.isComplete());
        assertEquals(o.toolstackWidth(), r.width());
        assertEquals(o.guest(), r.guestType());
        assertEquals(o.checkpoints(), checkpoints[0]);
        int last = o.checkpoints() - 1;
        long populated = 0;
        for (long pfn = 0; pfn < g.p2mSize(); pfn++) {
            if (!g.populated(pfn)) {
                assertFalse(memory.containsKey(pfn), "pfn " + pfn + " is in the hole");
                continue;
            }
            populated++;
            assertEquals(g.typeOf(pfn), types.get(pfn), "type of pfn " + pfn);
            assertArrayEquals(g.page(pfn, last).array(), memory.get(pfn), "content of pfn " + pfn);
        }
        assertEquals(populated, memory.size());
        if (o.guest() == GuestType.PV) {
            PvVcpuRecord v0 = items.stream().filter(i -> i instanceof PvVcpuRecord)
                    .map(i -> (PvVcpuRecord) i).findFirst().orElseThrow();
            PvVcpuContext ctx = PvVcpuContext.wrap(o.guestWidth(), v0.context().toArray());
            assertTrue(ctx.isOnline());
            assertEquals(g.topTablePfn(), ctx.cr3Pfn());
            assertEquals(g.startInfoPfn(), ctx.rdx());
        } else {
            HvmTailContext hc = items.stream().filter(i -> i instanceof HvmTailContext)
                    .map(i -> (HvmTailContext) i).findFirst().orElseThrow();
            HvmContext ctx = HvmContext.parse(hc.blob().toArray(), 0);
            assertEquals(o.vcpus(), ctx.cpus().size());
            assertEquals(0xFFF0, ctx.cpus().get(0).rip());
        }
    }

    @ParameterizedTest(name = "{0} toolstack {1} guest {2}")
    @MethodSource("compressedCombinations")
    void compressedRemusStreamReadsBackToTheLastCheckpoint(GuestType g, Width tw, Width gw) throws Exception {
        SynthOptions o = new SynthOptions(g, tw, gw, 700, 7, 4, true, SynthOptions.Format.LEGACY, 1);
        checkLegacyReadBack(o, StreamSynth.toBytes(o));
    }

    static Stream<Arguments> compressedCombinations() {
        return Stream.of(Arguments.of(GuestType.HVM, Width.W64, Width.W64),
                Arguments.of(GuestType.PV, Width.W32, Width.W32), Arguments.of(GuestType.PV, Width.W64, Width.W64));
    }

    static Stream<Arguments> v2Combinations() {
        List<Arguments> out = new ArrayList<>();
        for (SynthOptions.Format f : new SynthOptions.Format[] {SynthOptions.Format.V2_LIBXC, SynthOptions.Format.V2_LIBXL}) {
            out.add(Arguments.of(f, GuestType.HVM, Width.W64, 1));
            out.add(Arguments.of(f, GuestType.PV, Width.W64, 1));
            out.add(Arguments.of(f, GuestType.PV, Width.W32, 1));
        }
        out.add(Arguments.of(SynthOptions.Format.V2_LIBXC, GuestType.HVM, Width.W64, 3));
        out.add(Arguments.of(SynthOptions.Format.V2_LIBXC, GuestType.PV, Width.W64, 2));
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} guest {2} checkpoints {3}")
    @MethodSource("v2Combinations")
    void v2StreamIsAcceptedByVerifyStreamV2AndReadsBack(SynthOptions.Format f, GuestType g, Width gw, int k,
            @TempDir Path dir) throws Exception {
        SynthOptions o = new SynthOptions(g, Width.W64, gw, 1100, 5, k, false, f, 2);
        byte[] stream = StreamSynth.toBytes(o);
        Path file = dir.resolve("s.v2");
        Files.write(file, stream);
        String layer = f == SynthOptions.Format.V2_LIBXL ? "libxl" : "libxc";
        XenTools.Result v = XenTools.require().verifyV2(file, layer);
        assertTrue(v.ok(), "verify-stream-v2 -f " + layer + " failed:\n" + v.output());
        checkV2ReadBack(o, stream);
    }

    /** libxl streams with several checkpoints: verify-stream-v2 cannot follow them; our reader can. */
    @Test
    void v2LibxlRemusStreamReadsBack() throws Exception {
        SynthOptions o = new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 600, 9, 3, false,
                SynthOptions.Format.V2_LIBXL, 1);
        checkV2ReadBack(o, StreamSynth.toBytes(o));
    }

    private static void checkV2ReadBack(SynthOptions o, byte[] stream) throws Exception {
        SynthGuest g = new SynthGuest(o);
        List<? extends V2Item> items;
        ByteBuffer in = ByteBuffer.wrap(stream);
        if (o.format() == SynthOptions.Format.V2_LIBXL) {
            LibxlReader r = new LibxlReader(StreamLimits.DEFAULT);
            items = r.feed(in);
            r.finish();
            assertTrue(r.isDone());
        } else {
            LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
            items = r.feed(in);
            r.finish();
            assertTrue(r.isDone());
        }
        assertFalse(in.hasRemaining());
        Map<Long, byte[]> memory = new HashMap<>();
        for (V2Item it : items) {
            if (it instanceof PageData p) {
                for (int i = 0; i < p.count(); i++) {
                    assertEquals(g.typeOf(p.pfn(i)), p.pageType(i));
                    byte[] a = new byte[StreamLimits.PAGE_SIZE];
                    p.page(i).get(a);
                    memory.put(p.pfn(i), a);
                }
            }
        }
        for (long pfn = 0; pfn < g.p2mSize(); pfn++) {
            if (g.populated(pfn)) {
                assertArrayEquals(g.page(pfn, o.checkpoints() - 1).array(), memory.get(pfn), "pfn " + pfn);
            } else {
                assertFalse(memory.containsKey(pfn));
            }
        }
    }

    @Test
    void sameOptionsSameBytesOtherSeedOtherBytes() throws Exception {
        SynthOptions o = opts(GuestType.PV, Width.W64, Width.W64, 2, 64);
        assertArrayEquals(StreamSynth.toBytes(o), StreamSynth.toBytes(o));
        assertNotEquals(ByteBuffer.wrap(StreamSynth.toBytes(o)), ByteBuffer.wrap(StreamSynth.toBytes(o.withSeed(43))));
    }

    @Test
    void laterCheckpointsSendOnlyDirtiedDataPages() {
        SynthGuest g = new SynthGuest(opts(GuestType.PV, Width.W64, Width.W64, 3, 4096));
        long sent0 = 0;
        long sent1 = 0;
        for (long pfn = 0; pfn < g.p2mSize(); pfn++) {
            sent0 += g.sentIn(pfn, 0) ? 1 : 0;
            if (g.sentIn(pfn, 1)) {
                sent1++;
                assertEquals(PageType.NOTAB, g.typeOf(pfn));
            }
        }
        assertEquals(4096, sent0);
        assertTrue(sent1 > 100 && sent1 < 500, "about 1 in 16 dirtied: " + sent1);
        assertTrue(g.sentIn(g.firstDataPfn(), 2));
    }

    @Test
    void pvLayoutHasPinnedAndUnpinnedTablesAtEveryLevel() {
        SynthGuest g64 = new SynthGuest(opts(GuestType.PV, Width.W64, Width.W64, 1, 4096));
        assertEquals(PageType.L4TAB_PINNED, g64.typeOf(0));
        assertEquals(PageType.L3TAB, g64.typeOf(1));
        assertEquals(PageType.L2TAB, g64.typeOf(2));
        assertEquals(PageType.L1TAB_PINNED, g64.typeOf(3));
        assertEquals(PageType.L1TAB, g64.typeOf(4));
        assertEquals(8, g64.p2mFrames().length); // 4096 pfns / 512 per p2m page
        SynthGuest g32 = new SynthGuest(opts(GuestType.PV, Width.W64, Width.W32, 1, 4096));
        assertEquals(PageType.L3TAB_PINNED, g32.typeOf(0));
        assertEquals(PageType.L2TAB, g32.typeOf(1));
        assertEquals(4, g32.p2mFrames().length);
    }

    @Test
    void optionsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> opts(GuestType.PV, Width.W64, Width.W64, 1, 8));
        assertThrows(IllegalArgumentException.class,
                () -> new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 100, 1, 1, true, SynthOptions.Format.LEGACY, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 100, 1, 2, true, SynthOptions.Format.V2_LIBXC, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 100, 1, 1, false, SynthOptions.Format.LEGACY, 0));
    }

    @Test
    void dirtiedPagesChangeAFewWordsSoCompressionFindsDeltas() throws Exception {
        SynthGuest g = new SynthGuest(opts(GuestType.HVM, Width.W64, Width.W64, 2, 256));
        long pfn = g.firstDataPfn();
        assertTrue(g.sentIn(pfn, 1));
        ByteBuffer before = g.page(pfn, 0);
        ByteBuffer after = g.page(pfn, 1);
        int changed = 0;
        for (int i = 0; i < StreamLimits.PAGE_SIZE; i += 8) {
            changed += before.getLong(i) != after.getLong(i) ? 1 : 0;
        }
        assertTrue(changed >= 1 && changed <= SynthGuest.DIRTY_WORDS_MAX, "words changed: " + changed);

        SynthOptions plain = new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 2048, 3, 4, false,
                SynthOptions.Format.LEGACY, 1);
        SynthGuest pg = new SynthGuest(plain);
        // pages the encoder has seen in an earlier compressed checkpoint (1..k-1) go as deltas, not full pages
        long deltas = 0;
        for (long p = 0; p < pg.p2mSize(); p++) {
            for (int k = 2; k < plain.checkpoints(); k++) {
                if (pg.sentIn(p, k) && (pg.sentIn(p, 1) || k == 3 && pg.sentIn(p, 2))) {
                    deltas++;
                }
            }
        }
        assertTrue(deltas > 50, "the hot set is re-dirtied: " + deltas);
        int plainLen = StreamSynth.toBytes(plain).length;
        int compLen = StreamSynth.toBytes(plain.withCheckpoints(4, true)).length;
        assertTrue(plainLen - compLen > deltas * 3000L,
                "plain " + plainLen + " compressed " + compLen + " delta pages " + deltas);
    }

    @Test
    void hvmMagicPagesAreSentEvenWhenTheyFallInTheVgaHole() {
        SynthGuest g = new SynthGuest(opts(GuestType.HVM, Width.W64, Width.W64, 1, 0xB0));
        assertTrue(g.ioreqPfn() >= SynthGuest.VGA_HOLE_START && g.consolePfn() < SynthGuest.VGA_HOLE_END);
        for (long pfn : new long[] {g.ioreqPfn(), g.bufioreqPfn(), g.storePfn(), g.consolePfn()}) {
            assertTrue(g.populated(pfn) && g.sentIn(pfn, 0), "magic pfn 0x" + Long.toHexString(pfn));
        }
        assertFalse(g.populated(SynthGuest.VGA_HOLE_START));
    }
}
