package dev.migrationd.protocol.v2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.x86.TscInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Rejection of bad v2 input, each with its specific error (item, code, offset, problem). Runs in the
 * surefire execution with -Xmx64m (@Tag("small-heap")): huge declared lengths must not allocate.
 */
@Tag("small-heap")
class V2RejectionSmallHeapTest {
    /** Image header + PV domain header. */
    static final int PV_PREFIX = 40;

    static byte[] pvStream(LibxcRecord... records) {
        List<V2Item> items = new ArrayList<>(List.of(ImageHeader.V3, DomainHeader.converted(GuestType.PV)));
        items.addAll(List.of(records));
        items.add(SignalRecord.END);
        return V2Streams.write(items);
    }

    static byte[] hvmStream(int version, LibxcRecord... records) {
        List<V2Item> items = new ArrayList<>(List.of(new ImageHeader(version), DomainHeader.converted(GuestType.HVM)));
        items.addAll(List.of(records));
        items.add(SignalRecord.END);
        return V2Streams.write(items);
    }

    static <T extends StreamException> T rejects(Class<T> kind, byte[] stream, boolean libxl, String item, long code,
            long offset, String problem) {
        StreamException e = assertThrows(StreamException.class, () -> V2Streams.read(stream, libxl));
        assertInstanceOf(kind, e, e.getMessage());
        assertEquals(item, e.item(), e.getMessage());
        assertEquals(code, e.code(), e.getMessage());
        assertEquals(offset, e.offset(), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
        // byte by byte: the same error
        StreamException e2 = assertThrows(StreamException.class,
                () -> V2Streams.read(stream, libxl, V2Streams.everyByte(Math.min(stream.length, 20_000))));
        assertEquals(e.getMessage(), e2.getMessage());
        return kind.cast(e);
    }

    static byte[] patch(byte[] b, int at, ByteOrder order, long value, int size) {
        byte[] c = b.clone();
        ByteBuffer w = ByteBuffer.wrap(c).order(order);
        switch (size) {
            case 1 -> w.put(at, (byte) value);
            case 2 -> w.putShort(at, (short) value);
            case 4 -> w.putInt(at, (int) value);
            default -> w.putLong(at, value);
        }
        return c;
    }

    static byte[] le(byte[] b, int at, long value, int size) {
        return patch(b, at, ByteOrder.LITTLE_ENDIAN, value, size);
    }

    @Test
    void badImageHeaders() {
        byte[] ok = pvStream();
        var be = ByteOrder.BIG_ENDIAN;
        rejects(StreamFatalException.class, patch(ok, 0, be, 0x00000100_00000000L, 8), false, "IMAGE_HEADER", 0, 0,
                "bad marker 0x10000000000 (not a v2 image)");
        rejects(StreamFatalException.class, patch(ok, 8, be, 0x58454E47, 4), false, "IMAGE_HEADER", 0, 0, "bad id 0x58454e47");
        rejects(StreamFatalException.class, patch(ok, 12, be, 1, 4), false, "IMAGE_HEADER", 0, 0, "unknown version 1");
        rejects(StreamFatalException.class, patch(ok, 12, be, 4, 4), false, "IMAGE_HEADER", 0, 0, "unknown version 4");
        rejects(StreamFatalException.class, patch(ok, 16, be, 2, 2), false, "IMAGE_HEADER", 0, 0, "reserved option bits set: 0x2");
        rejects(StreamFatalException.class, patch(ok, 16, be, 1, 2), false, "IMAGE_HEADER", 0, 0, "big-endian streams");
        rejects(StreamFatalException.class, patch(ok, 18, be, 1, 2), false, "IMAGE_HEADER", 0, 0, "reserved fields not zero");
        rejects(StreamFatalException.class, patch(ok, 20, be, 1, 4), false, "IMAGE_HEADER", 0, 0, "reserved fields not zero");
    }

    @Test
    void badDomainHeaders() {
        byte[] ok = pvStream();
        rejects(StreamFatalException.class, le(ok, 24, 3, 4), false, "DOMAIN_HEADER", 3, 24, "unknown domain type 0x3");
        rejects(StreamFatalException.class, le(ok, 28, 13, 2), false, "DOMAIN_HEADER", 1, 24, "page shift 13");
        rejects(StreamFatalException.class, le(ok, 30, 1, 2), false, "DOMAIN_HEADER", 1, 24, "reserved field not zero");
    }

    @Test
    void unknownRecordTypes() {
        byte[] ok = pvStream();
        rejects(StreamFatalException.class, le(ok, PV_PREFIX, 0x13, 4), false, LibxcReader.UNKNOWN, 0x13, 40,
                "unknown record type");
    }

    /** Unknown optional records (bit 31) are skipped without being gathered; their length is still bounded. */
    @Test
    void unknownOptionalRecordsAreSkipped() throws Exception {
        byte[] ok = pvStream();
        byte[] opt = new byte[ok.length + 8 + 16];
        System.arraycopy(ok, 0, opt, 0, PV_PREFIX);
        ByteBuffer.wrap(opt, PV_PREFIX, 24).order(ByteOrder.LITTLE_ENDIAN).putInt(0x8000_0013).putInt(13)
                .putLong(0x1122334455667788L).putLong(0x99);
        System.arraycopy(ok, PV_PREFIX, opt, PV_PREFIX + 24, ok.length - PV_PREFIX);
        assertEquals(V2Streams.read(ok, false), V2Streams.read(opt, false));
        assertEquals(V2Streams.read(ok, false), V2Streams.read(opt, false, V2Streams.everyByte(opt.length)));
        LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
        r.feed(ByteBuffer.wrap(opt));
        r.finish();
        assertEquals(1, r.skippedOptionalRecords());
        rejects(StreamFatalException.class, le(opt, PV_PREFIX + 4, 0xFFFF_FFF0L, 4), false, LibxcReader.UNKNOWN,
                0x8000_0013L, 40, "optional record length 4294967280 exceeds the limit 4202512");
        StreamException e = assertThrows(StreamFatalException.class, () -> V2Streams.read(Arrays.copyOf(opt, 60), false));
        assertEquals("UNKNOWN_RECORD (code 0x80000013) at offset 40: stream truncated inside an optional record,"
                + " 4 bytes missing", e.getMessage());
    }

    @Test
    void oversizedLengthsAreRejectedBeforeAllocation() {
        byte[] ok = pvStream(SignalRecord.STATIC_DATA_END);
        // a PAGE_DATA header claiming 4 GiB - 8: rejected from the header, nothing gathered
        byte[] pd = le(le(ok, PV_PREFIX + 8, 1, 4), PV_PREFIX + 12, 0xFFFF_FFF8L, 4);
        rejects(StreamFatalException.class, pd, false, "PAGE_DATA", 1, 48, "length 4294967288 exceeds the limit 4202504");
        byte[] hvm = le(le(hvmStream(3), 40, 9, 4), 44, 0x7FFF_FFF8L, 4);
        rejects(StreamFatalException.class, hvm, false, "HVM_CONTEXT", 9, 40, "exceeds the limit 4202512");
        // one more than the configured limit
        StreamLimits tight = new StreamLimits(1 << 20, 1024, 64, 1024, 4096, 1 << 16, 1 << 16, 1024, 1024, 1 << 16, 1 << 10);
        byte[] ctx = hvmStream(2, BlobRecord.hvmContext(ByteBuffer.allocate((1 << 16) + 1)));
        StreamException e = assertThrows(StreamFatalException.class, () -> V2Streams.read(ctx, false, tight));
        assertEquals("HVM_CONTEXT (code 0x9) at offset 40: length 65537 exceeds the limit 65536", e.getMessage());
        // a vCPU basic record longer than a 64-bit context
        byte[] basic = le(le(pvStream(), PV_PREFIX, 4, 4), PV_PREFIX + 4, 8 + 0x1430 + 8, 4);
        rejects(StreamFatalException.class, basic, false, "X86_PV_VCPU_BASIC", 4, 40, "exceeds the limit 5176");
    }

    /** A declared 4 MiB page batch or 64 MiB QEMU record that never arrives costs no more than what arrived. */
    @Test
    void hugeDeclaredRecordsThatNeverArriveDoNotExhaustTheHeap() throws Exception {
        List<LibxlReader> readers = new ArrayList<>();
        byte[] head = V2Streams.write(List.of(new LibxlHeader(false)));
        for (int i = 0; i < 200; i++) {
            LibxlReader r = new LibxlReader(StreamLimits.DEFAULT);
            r.feed(ByteBuffer.wrap(head));
            ByteBuffer rec = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            rec.putInt(3).putInt(8 + (64 << 20)).putInt(2).putInt(0).putLong(0x1122334455667788L).flip();
            r.feed(rec);
            readers.add(r); // 200 readers × 64 MiB declared = 12.5 GiB if allocated up front
        }
        for (LibxlReader r : readers) {
            StreamException e = assertThrows(StreamFatalException.class, r::finish);
            assertEquals("EMULATOR_CONTEXT (code 0x3) at offset 16: stream truncated after 16 of 67108872 bytes",
                    e.getMessage());
        }
    }

    @Test
    void exactLengthsAndSignals() {
        byte[] ok = pvStream(X86PvInfo.GUEST_64);
        rejects(RecordException.class, le(ok, PV_PREFIX + 4, 16, 4), false, "X86_PV_INFO", 2, 40, "length 16 is not 8");
        byte[] end = le(pvStream(), PV_PREFIX + 4, 8, 4);
        rejects(RecordException.class, end, false, "END", 0, 40, "length 8 is not 0");
        byte[] tsc = le(pvStream(new TscInfoRecord(new TscInfo(0, 2, 1, 3))), PV_PREFIX + 4, 20, 4);
        rejects(RecordException.class, tsc, false, "X86_TSC_INFO", 8, 40, "length 20 is not 24");
        byte[] tscRes = le(pvStream(new TscInfoRecord(new TscInfo(0, 2, 1, 3))), PV_PREFIX + 8 + 20, 1, 4);
        rejects(RecordException.class, tscRes, false, "X86_TSC_INFO", 8, 40, "reserved field not zero");
        byte[] shared = le(pvStream(new SharedInfoRecord(ByteBuffer.allocate(4096))), PV_PREFIX + 4, 4095, 4);
        rejects(RecordException.class, shared, false, "SHARED_INFO", 7, 40, "length 4095 is not 4096");
        byte[] pvInfo = le(pvStream(X86PvInfo.GUEST_64), PV_PREFIX + 8, 5, 1);
        rejects(RecordException.class, pvInfo, false, "X86_PV_INFO", 2, 40, "guest width 5 is not 4 or 8");
        byte[] params = le(hvmStream(2, new HvmParams(List.of(new HvmParams.Param(1, 2)))), 40 + 8, 2, 4);
        rejects(RecordException.class, params, false, "HVM_PARAMS", 0xA, 40, "length 24 for count 2, expected 40");
        byte[] emptyCtx = le(le(hvmStream(2), 40, 9, 4), 44, 0, 4);
        rejects(RecordException.class, emptyCtx, false, "HVM_CONTEXT", 9, 40, "empty HVM context");
    }

    @Test
    void nonZeroPaddingIsFatal() {
        byte[] ok = hvmStream(2, BlobRecord.hvmContext(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5})));
        byte[] bad = ok.clone();
        bad[40 + 8 + 6] = 0x7F;
        rejects(StreamFatalException.class, bad, false, "HVM_CONTEXT", 9, 40, "padding byte 1 is 0x7f, not zero");
    }

    @Test
    void pageDataContent() {
        PageData pd = PageData.of(new long[] {PageData.entry(PageType.NOTAB, 3), PageData.entry(PageType.XTAB, 4)},
                ByteBuffer.allocate(4096));
        byte[] ok = pvStream(SignalRecord.STATIC_DATA_END, pd);
        int rec = PV_PREFIX + 8;
        rejects(RecordException.class, le(ok, rec + 8, 0, 4), false, "PAGE_DATA", 1, rec, "count 0 not in 1..1024");
        rejects(RecordException.class, le(ok, rec + 8, 1025, 4), false, "PAGE_DATA", 1, rec, "count 1025 not in 1..1024");
        rejects(RecordException.class, le(ok, rec + 8, 3, 4), false, "PAGE_DATA", 1, rec,
                "length 4120, expected 8 + 24 + 8192");
        rejects(RecordException.class, le(ok, rec + 12, 1, 4), false, "PAGE_DATA", 1, rec, "reserved field not zero");
        for (int nibble = 5; nibble <= 8; nibble++) {
            rejects(RecordException.class, le(ok, rec + 16 + 8 + 7, nibble << 4, 1), false, "PAGE_DATA", 1, rec,
                    "invalid type 0x" + nibble + " in pfn[1]");
        }
        rejects(RecordException.class, le(ok, rec + 16 + 6, 0x10, 1), false, "PAGE_DATA", 1, rec,
                "reserved bits set in pfn[0]: 0x10000000000003");
        rejects(RecordException.class, le(ok, rec + 16, 1L << 28, 8), false, "PAGE_DATA", 1, rec,
                "pfn[0] 0x10000000 not below the p2m limit 0x10000000");
        // XTAB -> NOTAB: one more data page declared than present
        rejects(RecordException.class, le(ok, rec + 16 + 8 + 7, 0, 1), false, "PAGE_DATA", 1, rec,
                "length 4120, expected 8 + 16 + 8192");
        byte[] tiny = le(ok, rec + 4, 8, 4);
        rejects(RecordException.class, tiny, false, "PAGE_DATA", 1, rec, "length 8 leaves no room for a pfn");
    }

    @Test
    void recordsInTheWrongStream() {
        byte[] v2 = V2Streams.write(List.of(ImageHeader.V2, DomainHeader.converted(GuestType.HVM), SignalRecord.END));
        byte[] sde = le(v2, 40, 0x10, 4);
        rejects(RecordException.class, sde, false, "STATIC_DATA_END", 0x10, 40, "only valid in a version 3 image");
        rejects(RecordException.class, le(v2, 40, 0x0B, 4), false, "TOOLSTACK", 0xB, 40, "deprecated TOOLSTACK");
        rejects(RecordException.class, le(v2, 40, 0x0F, 4), false, "CHECKPOINT_DIRTY_PFN_LIST", 0xF, 40, "COLO back channel");
        rejects(RecordException.class, le(v2, 40, 0x07, 4), false, "SHARED_INFO", 7, 40, "PV record in an HVM stream");
        byte[] pv = pvStream();
        rejects(RecordException.class, le(pv, 40, 0x0A, 4), false, "HVM_PARAMS", 0xA, 40, "HVM record in a PV stream");
        byte[] pd = pvStream(PageData.of(new long[] {PageData.entry(PageType.XTAB, 1)}));
        // v3 image without STATIC_DATA_END before memory
        rejects(RecordException.class, pd, false, "PAGE_DATA", 1, 40, "missing STATIC_DATA_END");
        byte[] twice = pvStream(SignalRecord.STATIC_DATA_END, SignalRecord.STATIC_DATA_END);
        rejects(RecordException.class, twice, false, "STATIC_DATA_END", 0x10, 48, "second STATIC_DATA_END");
    }

    @Test
    void libxlFraming() {
        List<V2Item> items = V2Streams.stream(new V2Streams.Shape(GuestType.HVM, 3, 1, true, 8), 5);
        byte[] ok = V2Streams.write(items);
        var be = ByteOrder.BIG_ENDIAN;
        rejects(StreamFatalException.class, patch(ok, 0, be, 0x4C6962786C466D75L, 8), true, "LIBXL_HEADER", 0, 0, "bad ident");
        rejects(StreamFatalException.class, patch(ok, 8, be, 3, 4), true, "LIBXL_HEADER", 0, 0, "unknown version 3");
        rejects(StreamFatalException.class, patch(ok, 12, be, 4, 4), true, "LIBXL_HEADER", 0, 0, "reserved option bits set: 0x4");
        rejects(StreamFatalException.class, patch(ok, 16, ByteOrder.LITTLE_ENDIAN, 6, 4), true, LibxlReader.UNKNOWN, 6, 16,
                "unknown libxl record type");
        byte[] noLibxc = V2Streams.write(List.of(new LibxlHeader(false), LibxlSignalRecord.END));
        rejects(RecordException.class, noLibxc, true, "END", 0, 16, "END before the libxc stream's END");
        byte[] stray = V2Streams.write(List.of(new LibxlHeader(false), LibxlSignalRecord.CHECKPOINT_END));
        rejects(RecordException.class, stray, true, "CHECKPOINT_END", 4, 16, "without a libxc CHECKPOINT");
        byte[] emu = V2Streams.write(List.of(new LibxlHeader(false), new EmulatorRecord(LibxlRecordType.EMULATOR_CONTEXT,
                0, 0, ByteBuffer.allocate(4))));
        rejects(RecordException.class, le(emu, 24, 3, 4), true, "EMULATOR_CONTEXT", 3, 16, "unknown emulator id 3");
        byte[] xs = V2Streams.write(List.of(new LibxlHeader(false), new EmulatorRecord(
                LibxlRecordType.EMULATOR_XENSTORE_DATA, 0, 0, ByteBuffer.wrap(new byte[] {'k', 0, 'v'}))));
        rejects(RecordException.class, xs, true, "EMULATOR_XENSTORE_DATA", 2, 16, "not NUL terminated");
    }

    /** Every proper prefix of a valid stream is rejected as truncated, naming the item it stopped in. */
    @Test
    void truncationAtEveryOffset() throws Exception {
        for (boolean libxl : new boolean[] {false, true}) {
            for (GuestType g : GuestType.values()) {
                byte[] ok = V2Streams.write(V2Streams.stream(new V2Streams.Shape(g, 3, 0, libxl, 8), 11));
                for (int len = 0; len < ok.length; len++) {
                    byte[] prefix = Arrays.copyOf(ok, len);
                    StreamException e = assertThrows(StreamFatalException.class, () -> V2Streams.read(prefix, libxl),
                            "prefix of " + len);
                    assertTrue(e.getMessage().contains("stream truncated after"), e.getMessage());
                    assertTrue(e.offset() <= len && e.offset() >= Math.max(0, len - 4 * 4096 - 64),
                            e.getMessage() + " for prefix " + len);
                }
            }
        }
    }

    /** A checkpointed stream may end after a complete checkpoint (failover), but not inside one. */
    @Test
    void checkpointedStreamsMayEndAfterACheckpoint() throws Exception {
        List<V2Item> items = V2Streams.stream(new V2Streams.Shape(GuestType.PV, 3, 2, false, 8), 3);
        int cut = items.indexOf(SignalRecord.CHECKPOINT);
        byte[] upToCheckpoint = V2Streams.write(items.subList(0, cut + 1));
        assertEquals(items.subList(0, cut + 1), V2Streams.read(upToCheckpoint, false));
        byte[] inside = Arrays.copyOf(upToCheckpoint, upToCheckpoint.length - 4);
        assertThrows(StreamFatalException.class, () -> V2Streams.read(inside, false));

        List<V2Item> xl = V2Streams.stream(new V2Streams.Shape(GuestType.HVM, 3, 2, true, 8), 3);
        int cpEnd = xl.indexOf(LibxlSignalRecord.CHECKPOINT_END);
        byte[] afterCpEnd = V2Streams.write(xl.subList(0, cpEnd + 1));
        assertEquals(xl.subList(0, cpEnd + 1), V2Streams.read(afterCpEnd, true));
        int cp = xl.indexOf(SignalRecord.CHECKPOINT);
        byte[] beforeCpEnd = V2Streams.write(xl.subList(0, cp + 1));
        StreamException e = assertThrows(StreamFatalException.class, () -> V2Streams.read(beforeCpEnd, true));
        assertTrue(e.getMessage().contains("no END record"), e.getMessage());
    }

    @Test
    void theFirstErrorSticks() throws Exception {
        LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
        byte[] bad = le(pvStream(), 24, 9, 4);
        StreamException first = assertThrows(StreamException.class, () -> r.feed(ByteBuffer.wrap(bad)));
        StreamException again = assertThrows(StreamException.class, () -> r.feed(ByteBuffer.wrap(pvStream())));
        assertSame(first, again);
        assertSame(first, assertThrows(StreamException.class, r::finish));
    }

    @Test
    void bytesAfterEndAreLeftToTheCaller() throws Exception {
        byte[] stream = pvStream();
        byte[] withTail = Arrays.copyOf(stream, stream.length + 25);
        LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
        ByteBuffer in = ByteBuffer.wrap(withTail);
        r.feed(in);
        assertTrue(r.isDone());
        assertEquals(25, in.remaining());
        r.finish();
    }
}
