package dev.migrationd.protocol.convert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.testing.LenientLegacyStreams;
import dev.migrationd.protocol.testing.LenientLegacyStreams.Shape;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.V2Item;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.v2.X86PvInfo;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every stream shape the reader accepts because libxc's restore does (docs/wire-format-legacy.md §15) converts, with
 * {@code LegacyToV2Converter}, to a v2 stream that Xen's {@code verify-stream-v2} accepts, in both formats, and the
 * v2 records hold what libxc would have restored.
 */
class LenientStreamsXenVerifyTest {

    static List<Shape> shapes() {
        return LenientLegacyStreams.all();
    }

    private static List<V2Item> convertAndVerify(Shape s, boolean libxl) throws Exception {
        byte[] v2 = ConvertSupport.convert(s.stream(), s.options(), libxl);
        List<V2Item> items = ConvertSupport.decode(v2, libxl).items();
        ConvertSupport.verify(v2, libxl, items);
        return items;
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void convertsToAStreamXenVerifies(Shape s) throws Exception {
        convertAndVerify(s, false);
        convertAndVerify(s, true);
    }

    private static <T> List<T> all(List<V2Item> items, Class<T> type) {
        return items.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static List<VcpuRecord> vcpus(List<V2Item> items, Predicate<VcpuRecord> p) {
        return all(items, VcpuRecord.class).stream().filter(p).toList();
    }

    /** The PAGE_DATA entries of one PFN, in stream order. */
    private static List<long[]> entriesOf(List<V2Item> items, long pfn) {
        return all(items, PageData.class).stream().flatMap(d -> java.util.stream.IntStream.range(0, d.count())
                .filter(i -> d.pfn(i) == pfn).mapToObj(i -> new long[] {d.entry(i),
                        d.pageType(i).hasData() ? d.page(dataIndex(d, i)).get(0) & 0xFF : -1})).toList();
    }

    private static int dataIndex(PageData d, int i) {
        int n = 0;
        for (int j = 0; j < i; j++) {
            if (d.pageType(j).hasData()) {
                n++;
            }
        }
        return n;
    }

    @Test
    void duplicatePfnBecomesOneEntryWithTheLaterPage() throws Exception {
        List<V2Item> items = convertAndVerify(LenientLegacyStreams.hvmDuplicatePfn(), false);
        List<long[]> pfn3 = entriesOf(items, 3);
        assertEquals(1, pfn3.size());
        assertEquals(0xA2, pfn3.getFirst()[1]);
        List<long[]> pfn4 = entriesOf(items, 4);
        assertEquals(1, pfn4.size(), "the XALLOC after the page is dropped");
        assertEquals(PageData.entry(PageType.NOTAB, 4), pfn4.getFirst()[0]);
        assertEquals(0xB1, pfn4.getFirst()[1]);
    }

    @Test
    void pinBitOnAPlainPageBecomesNotab() throws Exception {
        List<long[]> pfn2 = entriesOf(convertAndVerify(LenientLegacyStreams.hvmPinnedPlainPage(), false), 2);
        assertEquals(1, pfn2.size());
        assertEquals(PageData.entry(PageType.NOTAB, 2), pfn2.getFirst()[0]);
        assertEquals(0x22, pfn2.getFirst()[1]);
    }

    @Test
    void batchOfOnlyBareXtabsWritesNoRecord() throws Exception {
        List<V2Item> items = convertAndVerify(LenientLegacyStreams.hvmXtabOnlyBatch(), false);
        assertEquals(2, all(items, PageData.class).size());
    }

    @Test
    void imageWithoutExtendedInfoHasTheToolstackWidth() throws Exception {
        for (Width w : Width.values()) {
            List<V2Item> items = convertAndVerify(LenientLegacyStreams.pvNoExtInfo(w), false);
            X86PvInfo info = all(items, X86PvInfo.class).getFirst();
            assertEquals(w.bytes(), info.guestWidth());
            assertEquals(w == Width.W64 ? 4 : 3, info.ptLevels());
            assertTrue(vcpus(items, v -> v.type() == RecordType.X86_PV_VCPU_EXTENDED).isEmpty());
        }
    }

    @Test
    void pvBodyWithoutVcpuInfoGivesVcpu0() throws Exception {
        List<VcpuRecord> basic = vcpus(convertAndVerify(LenientLegacyStreams.pvNoVcpuInfo(), false),
                v -> v.type() == RecordType.X86_PV_VCPU_BASIC);
        assertEquals(1, basic.size());
        assertEquals(0, basic.getFirst().vcpuId());
    }

    @Test
    void hvmOnlyChunksInAPvBodyLeaveNoTrace() throws Exception {
        assertTrue(all(convertAndVerify(LenientLegacyStreams.pvHvmChunks(), false), HvmParams.class).isEmpty());
    }

    @Test
    void shortXsaveRecordKeepsItsOwnSize() throws Exception {
        List<VcpuRecord> xsave = vcpus(convertAndVerify(LenientLegacyStreams.pvShortXsave(), false),
                v -> v.type() == RecordType.X86_PV_VCPU_XSAVE);
        assertEquals(1, xsave.size());
        ByteBuffer d = xsave.getFirst().data();
        byte[] got = new byte[d.remaining()];
        d.get(got);
        assertArrayEquals(XsaveRecord.resetState().buffer(), got);
    }
}
