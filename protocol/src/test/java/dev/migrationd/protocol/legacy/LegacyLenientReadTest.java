package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyStreamReader.Leniency;
import dev.migrationd.protocol.legacy.LegacyStreamReader.Warning;
import dev.migrationd.protocol.testing.LegacyBin;
import dev.migrationd.protocol.testing.LegacyFixtures;
import dev.migrationd.protocol.testing.LenientLegacyStreams;
import dev.migrationd.protocol.testing.LenientLegacyStreams.Shape;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reader accepts what libxc's restore (Xen 4.5) accepts although no Xen sender writes it
 * (docs/wire-format-legacy.md §15): each shape of {@link LenientLegacyStreams} reads to the end, in any split, with
 * a warning of its kind, and the items say what libxc would make of it.
 */
class LegacyLenientReadTest {

    private record Read(List<LegacyItem> items, List<Warning> warnings) {
        <T extends LegacyItem> List<T> all(Class<T> type) {
            return items.stream().filter(type::isInstance).map(type::cast).toList();
        }

        <T extends LegacyItem> T one(Class<T> type) {
            List<T> l = all(type);
            assertEquals(1, l.size(), type.getSimpleName() + " in " + items);
            return l.getFirst();
        }

        Set<Leniency> kinds() {
            Set<Leniency> k = EnumSet.noneOf(Leniency.class);
            warnings.forEach(w -> k.add(w.kind()));
            return k;
        }
    }

    private static Read read(Shape s) throws StreamException {
        List<Warning> warnings = new ArrayList<>();
        List<LegacyItem> items = LegacyFixtures.read(s.stream(), s.options().withWarnings(warnings::add));
        return new Read(items, warnings);
    }

    static List<Shape> shapes() {
        return LenientLegacyStreams.all();
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void readsToTheEndInAnySplitWithAWarningOfItsKind(Shape s) throws StreamException {
        Read r = read(s);
        assertEquals(EnumSet.copyOf(s.kinds()), r.kinds(), r.warnings().toString());
        assertInstanceOf(CheckpointEnd.class, r.items().getLast());
        for (Warning w : r.warnings()) {
            assertTrue(w.toString().startsWith("kind=" + w.kind() + " item="), w.toString());
        }
        int[] everyByte = IntStream.range(1, s.stream().length).toArray();
        List<Warning> split = new ArrayList<>();
        assertEquals(r.items(), LegacyFixtures.readSplit(s.stream(), s.options().withWarnings(split::add), everyByte));
        assertEquals(r.warnings(), split);
        assertEquals(r.items(), LegacyFixtures.readStreamed(s.stream(), s.options(), new int[] {7, 4100, 9000}));
    }

    @Test
    void unknownExtendedInfoBlockIsSkipped() throws StreamException {
        Read r = read(LenientLegacyStreams.pvUnknownExtBlock());
        PvHeader h = r.one(PvHeader.class);
        assertEquals(LegacyFixtures.pvVcpuContext(Width.W64), h.vcpuContext());
        assertTrue(h.extv());
        assertArrayEquals(new long[] {1}, h.p2mFrames());
        assertTrue(r.warnings().getFirst().message().contains("unknown extended-info block 'abcd' of 6 bytes skipped"),
                r.warnings().toString());
        assertEquals("HEADER", r.warnings().getFirst().item());
    }

    @Test
    void extvDataIsSkippedAndTheLaterVcpuBlockCounts() throws StreamException {
        Read r = read(LenientLegacyStreams.pvExtvDataAndRepeatedVcpu());
        PvHeader h = r.one(PvHeader.class);
        assertEquals(Width.W64, h.guestWidth());
        assertEquals(LegacyFixtures.pvVcpuContext(Width.W64), h.vcpuContext());
        assertTrue(h.extv());
        assertEquals(LegacyFormat.VCPU_CONTEXT_SIZE_X86_64, r.one(PvVcpuRecord.class).context().size());
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(Width.class)
    void imageWithoutExtendedInfoHasTheToolstackWidth(Width w) throws StreamException, IOException {
        Shape s = LenientLegacyStreams.pvNoExtInfo(w);
        Read r = read(s);
        PvHeader h = r.one(PvHeader.class);
        assertNull(h.vcpuContext());
        assertEquals(w, h.guestWidth());
        assertFalse(h.extv());
        assertArrayEquals(new long[] {1}, h.p2mFrames());
        PvVcpuRecord v = r.one(PvVcpuRecord.class);
        assertEquals(LegacyFormat.vcpuContextSize(w), v.context().size());
        assertNull(v.extContext());
        assertTrue(r.warnings().getFirst().message().contains("no extended-info signature"), r.warnings().toString());
        // the header item writes back to the same bytes (no signature), though the writer refuses it
        LegacyFixtures.ByteArraySink sink = new LegacyFixtures.ByteArraySink();
        for (LegacyItem i : r.items()) {
            i.write(sink, w);
        }
        assertArrayEquals(s.stream(), sink.toByteArray());
        LegacyStreamWriter writer = new LegacyStreamWriter(new LegacyFixtures.ByteArraySink(), w, GuestType.PV, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> writer.write(h));
        assertTrue(e.getMessage().contains("without the 'vcpu' extended-info block"), e.getMessage());
    }

    @Test
    void extendedInfoWithoutVcpuBlockHasTheToolstackWidth() throws StreamException {
        Read r = read(LenientLegacyStreams.pvExtInfoWithoutVcpu());
        PvHeader h = r.one(PvHeader.class);
        assertNull(h.vcpuContext());
        assertEquals(Width.W64, h.guestWidth());
        assertTrue(h.extv());
        assertNotNullExt(r.one(PvVcpuRecord.class));
    }

    private static void assertNotNullExt(PvVcpuRecord v) {
        assertEquals(LegacyFormat.EXT_VCPU_CONTEXT_SIZE, v.extContext().size());
    }

    @Test
    void pinBitOnAPlainPageIsAPlainPage() throws StreamException {
        Read r = read(LenientLegacyStreams.hvmPinnedPlainPage());
        PageBatch b = r.one(PageBatch.class);
        assertEquals(2, b.entry(1));
        assertEquals(PageType.NOTAB, b.type(1));
        assertEquals(0x22, b.page(1).get(4095));
        assertEquals("PAGE_BATCH", r.warnings().getFirst().item());
        assertEquals(8, r.warnings().getFirst().offset(), "the batch starts after the 8-byte p2m_size");
    }

    @Test
    void batchOfOnlyBareXtabsIsDelivered() throws StreamException {
        Read r = read(LenientLegacyStreams.hvmXtabOnlyBatch());
        List<PageBatch> batches = r.all(PageBatch.class);
        assertEquals(3, batches.size());
        PageBatch x = batches.get(1);
        assertArrayEquals(new int[] {0xF000_0000, 0xF000_0000, 0xF000_0000}, x.entries());
        assertEquals(0, x.dataCount());
        assertEquals(0x22, batches.get(2).page(0).get(0));
    }

    @Test
    void duplicatePfnKeepsBothPagesInOrder() throws StreamException {
        Read r = read(LenientLegacyStreams.hvmDuplicatePfn());
        PageBatch b = r.all(PageBatch.class).get(1);
        assertArrayEquals(new int[] {3, 4, 3, 0xE000_0004}, b.entries());
        assertEquals(3, b.dataCount());
        assertEquals((byte) 0xA1, b.page(0).get(0));
        assertEquals((byte) 0xB1, b.page(1).get(0));
        assertEquals((byte) 0xA2, b.page(2).get(0));
        assertTrue(r.warnings().getFirst().message().contains("pfn 0x3 stands twice"), r.warnings().toString());
    }

    @Test
    void pvBodyWithoutVcpuInfoHasVcpu0Only() throws StreamException {
        Read r = read(LenientLegacyStreams.pvNoVcpuInfo());
        VcpuInfo v = r.one(VcpuInfo.class);
        assertArrayEquals(new int[] {0}, v.onlineVcpus());
        assertInstanceOf(EndOfBody.class, r.items().get(r.items().indexOf(v) + 1));
        assertEquals(0, r.one(PvVcpuRecord.class).vcpuId());
    }

    @Test
    void laterCheckpointWithoutVcpuInfoKeepsThePreviousOne() throws StreamException {
        // checkpoint 0 says vCPUs {0, 1}; checkpoint 1 has none: libxc keeps {0, 1}
        Shape one = LenientLegacyStreams.pvNoVcpuInfo();
        byte[] s = one.stream();
        int tail = s.length - 4 - 0x1430 - 128 - 4096; // nr_unmapped, one vCPU, shared info
        int body = tail - 4;                          // END_OF_BODY
        LegacyBin b = new LegacyBin(Width.W64).bytes(Arrays.copyOf(s, body))
                .i32(LegacyFormat.XC_SAVE_ID_VCPU_INFO).i32(1).u64(3).i32(0).i32(0);
        byte[] vcpu = Arrays.copyOfRange(s, tail + 4, tail + 4 + 0x1430 + 128);
        b.bytes(vcpu).bytes(vcpu).zeros(4096);
        b.i32(1).ulong(1).page(0x33).i32(0).i32(0).bytes(vcpu).bytes(vcpu).zeros(4096);
        List<Warning> warnings = new ArrayList<>();
        List<LegacyItem> items = LegacyFixtures.read(b.done(), one.options().withCheckpointed(true)
                .withWarnings(warnings::add));
        List<VcpuInfo> infos = items.stream().filter(VcpuInfo.class::isInstance).map(VcpuInfo.class::cast).toList();
        assertEquals(2, infos.size());
        assertArrayEquals(new int[] {0, 1}, infos.get(1).onlineVcpus());
        assertEquals(4, items.stream().filter(PvVcpuRecord.class::isInstance).count());
        assertEquals(1, warnings.size());
        assertTrue(warnings.getFirst().message().contains("previous checkpoint's"), warnings.toString());
    }

    @Test
    void hvmOnlyChunksInAPvBodyAreReadAndDropped() throws StreamException {
        Read r = read(LenientLegacyStreams.pvHvmChunks());
        assertTrue(r.all(HvmParam.class).isEmpty(), r.items().toString());
        assertEquals(2, r.warnings().size());
        assertEquals("XC_SAVE_ID_HVM_IDENT_PT", r.warnings().get(0).item());
        assertEquals(-3, r.warnings().get(0).code());
        assertEquals("XC_SAVE_ID_HVM_VIRIDIAN", r.warnings().get(1).item());
    }

    @Test
    void xsaveRecordSmallerThanXcntKeepsItsSize() throws StreamException {
        Read r = read(LenientLegacyStreams.pvShortXsave());
        XsaveRecord x = r.one(PvVcpuRecord.class).xsave();
        assertArrayEquals(XsaveRecord.resetState().buffer(), x.buffer());
        assertEquals(XsaveRecord.XCR0_X87_SSE, x.xfeatureMask());
        assertTrue(r.warnings().getFirst().message().contains("the other " + LenientLegacyStreams.XSAVE_SLACK
                + " bytes skipped"), r.warnings().toString());
    }

    @Test
    void warningsOfOneKindStopAfterTheLimitButAreCounted() throws StreamException {
        int batches = LegacyStreamReader.MAX_WARNINGS_PER_KIND + 4;
        LegacyBin b = new LegacyBin(Width.W64).ulong(LenientLegacyStreams.P2M);
        for (int i = 0; i < batches; i++) {
            b.i32(2).ulong(5).ulong(5).page(i).page(i + 1);
        }
        b.i32(0).i32(0);
        List<Warning> warnings = new ArrayList<>();
        LegacyStreamReader r = new LegacyStreamReader(LegacyStreamReader.Options.of(Width.W64, GuestType.HVM)
                .withWarnings(warnings::add), item -> { });
        r.feed(ByteBuffer.wrap(b.done()));
        assertEquals(batches, r.warnings(Leniency.DUPLICATE_PFN));
        assertEquals(0, r.warnings(Leniency.NO_VCPU_INFO));
        assertEquals(LegacyStreamReader.MAX_WARNINGS_PER_KIND + 1, warnings.size());
        assertTrue(warnings.getLast().message().endsWith("further warnings of this kind are not reported"),
                warnings.getLast().message());
    }
}
