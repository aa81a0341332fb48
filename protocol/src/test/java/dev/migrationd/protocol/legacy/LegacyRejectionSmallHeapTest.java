package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyStreamReader.Options;
import dev.migrationd.protocol.testing.LegacyBin;
import dev.migrationd.protocol.testing.LegacyFixtures;
import dev.migrationd.protocol.testing.RandomLegacyStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hand-made bad streams each give their specific error (type, item, code, offset). This class runs in a
 * surefire execution with a 64 MiB heap: an allocation sized by an unchecked length (QEMU 64 MiB, HVM context
 * 16 MiB, ...) would fail with OutOfMemoryError instead of the expected error.
 */
@Tag("small-heap")
class LegacyRejectionSmallHeapTest {

    @Test
    void runsInASmallHeap() {
        long max = Runtime.getRuntime().maxMemory();
        assertTrue(max <= 96L << 20, "this class must run in the small-heap surefire execution (-Xmx64m), heap is "
                + (max >> 20) + " MiB");
    }

    private static LegacyBin hvm(Width w) {
        return new LegacyBin(w).ulong(0x100);
    }

    private static LegacyBin pv64() {
        // W=8, 32-bit guest, extv, no xcnt, p2m 0x100 → 1 frame
        return new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(0xAF0 + 8 + 8)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0xAF0).zeros(0xAF0)
                .i32(LegacyFormat.EXT_BLOCK_EXTV).i32(0).ulong(0x10);
    }

    private static LegacyBin hvmTail(LegacyBin b) {
        return b.u64(1).u64(2).u64(3).i32(1072).bytes(LegacyFixtures.minimalHvmContext(1).toArray());
    }

    private static <T extends StreamException> T expect(Class<T> type, byte[] stream, Options o, String item, long code,
                                                        long offset, String text) {
        StreamException e = assertThrows(StreamException.class, () -> LegacyFixtures.read(stream, o));
        assertInstanceOf(type, e, e.getMessage());
        assertEquals(item, e.item(), e.getMessage());
        assertEquals(code, e.code(), e.getMessage());
        assertEquals(offset, e.offset(), e.getMessage());
        assertTrue(e.getMessage().contains(text), e.getMessage());
        // chunk ids print as the 32-bit values they are on the wire: -12 is 0xfffffff4
        String hex = code < 0 ? Integer.toHexString((int) code) : Long.toHexString(code);
        assertTrue(e.getMessage().contains("(code 0x" + hex + ") at offset " + offset), e.getMessage());
        // the same error whatever the split
        StreamException e1 = assertThrows(StreamException.class, () -> LegacyFixtures.readSplit(stream, o,
                java.util.stream.IntStream.range(0, stream.length).toArray()));
        assertEquals(e.getMessage(), e1.getMessage());
        return type.cast(e);
    }

    private static final Options HVM64 = Options.of(Width.W64, GuestType.HVM);
    private static final Options HVM32 = Options.of(Width.W32, GuestType.HVM);
    private static final Options PV64 = Options.of(Width.W64, GuestType.PV);

    @Test
    void badP2mSize() {
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0).i32(0).done(), HVM64, "HEADER", 0, 0, "p2m_size 0x0");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x1000_0000L).i32(0).done(), HVM64, "HEADER", 0, 0,
                "out of range");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x1000).i32(0).done(),
                HVM64.withLimits(StreamLimits.DEFAULT.withMaxP2mSize(0x800)), "HEADER", 0, 0, "out of range 1..0x800");
    }

    @Test
    void badExtendedInfo() {
        // no signature: the word is frame-list entry 0, which must be below p2m_size
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(0x100).done(), PV64, "HEADER", 0, 0,
                "p2m frame list entry 0 pfn 0x100 >= p2m_size");
        expect(StreamFatalException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(0xFFFF_FFF0).done(), PV64,
                "HEADER", 0, 0, "extended-info total 4294967280 exceeds");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(16).i32(0x64636261).i32(9).done(),
                PV64, "HEADER", 0, 0, "block 'abcd' of 9 bytes exceeds the 8 bytes left");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(11).i32(0x64636261).i32(0)
                .zeros(3).done(), PV64, "HEADER", 0, 0, "3 stray bytes at the end");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(16)
                .i32(LegacyFormat.EXT_BLOCK_XCNT).i32(8).u64(64).done(), PV64, "HEADER", 0, 0,
                "'xcnt' block must have size 4, not 8");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(0x1008)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0x1000).done(), PV64, "HEADER", 0, 0, "'vcpu' block of 0x1000");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(12)
                .i32(LegacyFormat.EXT_BLOCK_XCNT).i32(4).i32(0x7FFF_FFFF).done(), PV64, "HEADER", 0, 0,
                "xcnt xsave_len 2147483647 out of range");
        expect(RecordException.class, new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(16)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0xAF0).done(), PV64, "HEADER", 0, 0, "exceeds the 8 bytes left");
        LegacyBin b = new LegacyBin(Width.W64).ulong(0x100).ulong(-1).i32(0xAF0 + 8).i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0xAF0)
                .zeros(0xAF0).ulong(0x100);
        expect(RecordException.class, b.done(), PV64, "HEADER", 0, 0, "p2m frame list entry 0 pfn 0x100 >= p2m_size");
    }

    @Test
    void badChunkIdsAndBatchSizes() {
        LegacyBin b = hvm(Width.W64).i32(1025);
        expect(StreamFatalException.class, b.done(), HVM64, "PAGE_BATCH", 1025, 8, "exceeds MAX_BATCH_SIZE 1024");
        expect(StreamFatalException.class, hvm(Width.W64).i32(-21).done(), HVM64, "CHUNK", -21, 8, "unknown chunk id -21");
        expect(StreamFatalException.class, hvm(Width.W32).i32(Integer.MIN_VALUE).done(), HVM32, "CHUNK",
                Integer.MIN_VALUE, 4, "unknown chunk id");
        expect(StreamFatalException.class, hvm(Width.W32).i32(0x7FFF_FFFF).done(), HVM32, "PAGE_BATCH", 0x7FFF_FFFF, 4,
                "exceeds MAX_BATCH_SIZE");
    }

    @Test
    void badPfnEntries() {
        expect(RecordException.class, hvm(Width.W64).i32(2).ulong(1).ulong(0x100).done(), HVM64, "PAGE_BATCH", 2, 8,
                "entry 1 pfn 0x100 >= p2m_size 0x100");
        expect(RecordException.class, hvm(Width.W64).i32(1).ulong(0x1_0000_0001L).done(), HVM64, "PAGE_BATCH", 1, 8,
                "bits above 31 set");
        expect(RecordException.class, hvm(Width.W64).i32(1).ulong(0x8000_0100L).done(), HVM64, "PAGE_BATCH", 1, 8,
                "entry 0 pfn 0x100 >= p2m_size 0x100");
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 6, 7})
    void invalidPageTypes(int type) {
        expect(RecordException.class, hvm(Width.W64).i32(1).ulong(((long) type << 28) | 4).done(), HVM64, "PAGE_BATCH",
                1, 8, "invalid page type 0x" + type);
    }

    @Test
    void badMetadataChunks() {
        expect(RecordException.class, hvm(Width.W64).i32(-2).i32(4096).done(), HVM64, "XC_SAVE_ID_VCPU_INFO", -2, 8,
                "max_vcpu_id 4096 out of range 0..4095");
        expect(RecordException.class, hvm(Width.W64).i32(-2).i32(-1).done(), HVM64, "XC_SAVE_ID_VCPU_INFO", -2, 8,
                "max_vcpu_id -1");
        expect(StreamFatalException.class, hvm(Width.W64).i32(-18).i32(-1).done(), HVM64, "XC_SAVE_ID_TOOLSTACK", -18, 8,
                "TOOLSTACK length 4294967295 exceeds");
        expect(RecordException.class, hvm(Width.W64).i32(-12).ulong(4).done(), HVM64, "XC_SAVE_ID_COMPRESSED_DATA", -12,
                8, "before compression was enabled");
    }

    @Test
    void badTmem() {
        expect(RecordException.class, hvm(Width.W64).i32(-5).i32(1).i32(1).i32(0).i32(0).i32(0).i32(0).i32(-1).done(),
                HVM64, "XC_SAVE_ID_TMEM", -5, 8, "separators");
        LegacyBin h = hvm(Width.W64).i32(-5).i32(1).i32(1).i32(-1).i32(0).i32(0).i32(0).i32(-1);
        expect(RecordException.class, h.i32(3).i32(0).i32(5).u64(0).u64(0).done(), HVM64, "XC_SAVE_ID_TMEM", -5, 8,
                "non-persistent tmem pool 3 with n_pages 5");
        h = hvm(Width.W64).i32(-5).i32(1).i32(1).i32(-1).i32(0).i32(0).i32(0).i32(-1);
        expect(RecordException.class, h.i32(3).i32(0xF1).i32(5).u64(0).u64(0).done(),
                HVM64.withLimits(new StreamLimits(1 << 28, 1024, 4096, 1 << 16, 1 << 20, 16 << 20, 64 << 20, 1 << 20,
                        64 << 20, 1 << 22, 1 << 28, 1 << 20)), "XC_SAVE_ID_TMEM", -5, 8, "tmem page size 134217728");
        // an endless TMEM_EXTRA list stops at maxTmemBytes
        LegacyBin x = hvm(Width.W64).i32(-6);
        for (int i = 0; i < 100; i++) {
            x.i32(1).u64(0).u64(0).u64(0).i32(0);
        }
        expect(StreamFatalException.class, x.done(), HVM64.withLimits(new StreamLimits(1 << 28, 1024, 4096, 1 << 16,
                1 << 20, 16 << 20, 64 << 20, 1 << 20, 64 << 20, 1 << 22, 1 << 28, 1000)), "XC_SAVE_ID_TMEM_EXTRA", -6, 8,
                "exceeds 1000 bytes");
    }

    @Test
    void hugeLengthsDoNotAllocate() {
        // QEMU record announcing exactly the 64 MiB limit, then truncated: a truncation error, no 64 MiB buffer
        LegacyBin b = hvmTail(hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0));
        int qemuAt = b.pos();
        b.bytes(QemuSignature.DEVICE_MODEL_RECORD_0002.bytes()).i32(64 << 20).zeros(1000);
        expect(StreamFatalException.class, b.done(), HVM64, "QEMU_RECORD", 0, qemuAt, "stream truncated");
        // ... and one byte above it is refused at once
        b = hvmTail(hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0));
        b.bytes(QemuSignature.DEVICE_MODEL_RECORD_0002.bytes()).i32((64 << 20) + 1);
        expect(StreamFatalException.class, b.done(), HVM64, "QEMU_RECORD", 0, qemuAt, "exceeds");
        // HVM context at the 16 MiB limit, truncated
        b = hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0);
        int tail = b.pos();
        b.u64(1).u64(2).u64(3).i32(16 << 20).zeros(100);
        expect(StreamFatalException.class, b.done(), HVM64, "HVM_TAIL_CONTEXT", 0, tail + 24, "stream truncated");
        b = hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0).u64(1).u64(2).u64(3).i32(-1);
        expect(StreamFatalException.class, b.done(), HVM64, "HVM_TAIL_CONTEXT", 0, tail + 24, "hvm_ctx_len 4294967295");
        // unmapped PFN count beyond p2m_size
        LegacyBin p = pv64().i32(-2).i32(0).u64(1).i32(0);
        int un = p.pos();
        expect(StreamFatalException.class, p.i32(0x101).done(), PV64, "PV_TAIL_UNMAPPED_PFNS", 0, un,
                "nr_unmapped 257 exceeds 256");
        p = pv64().i32(-2).i32(0).u64(1).i32(0).i32(2).ulong(3).ulong(0x100);
        expect(RecordException.class, p.done(), PV64, "PV_TAIL_UNMAPPED_PFNS", 0, un, "unmapped pfn 1 0x100");
        // QemuDeviceModelRecord to EOF beyond the limit
        b = hvmTail(hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0)).bytes(QemuSignature.QEMU_DEVICE_MODEL_RECORD.bytes())
                .bytes("QEVM".getBytes()).zeros(5000);
        expect(StreamFatalException.class, b.done(), HVM64.withLimits(new StreamLimits(1 << 28, 1024, 4096, 1 << 16,
                1 << 20, 16 << 20, 4096, 1 << 20, 64 << 20, 1 << 22, 1 << 28)), "QEMU_RECORD", 0, qemuAt,
                "QEMU state exceeds 4096 bytes");
    }

    @Test
    void badTails() {
        LegacyBin b = hvmTail(hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0));
        int qemuAt = b.pos();
        b.bytes("NotADeviceModelRecord".getBytes()).i32(0);
        expect(StreamFatalException.class, b.done(), HVM64, "QEMU_RECORD", 0, qemuAt,
                "unknown QEMU record signature 'NotADeviceModelRecord'");
        b = hvmTail(hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0)).bytes(QemuSignature.QEMU_DEVICE_MODEL_RECORD.bytes())
                .bytes("XXXX".getBytes());
        expect(RecordException.class, b.done(), HVM64, "QEMU_RECORD", 0, qemuAt, "does not start with \"QEVM\"");
        byte[] ctx = LegacyFixtures.minimalHvmContext(1).toArray();
        ctx[8] = 0;
        b = hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0);
        int tail = b.pos();
        b.u64(1).u64(2).u64(3).i32(ctx.length).bytes(ctx);
        expect(RecordException.class, b.done(), HVM64, "HVM_TAIL_CONTEXT", 0, tail + 24, "HEADER magic");
        ctx = LegacyFixtures.minimalHvmContext(1).toArray();
        b = hvm(Width.W64).i32(-2).i32(0).u64(1).i32(0).u64(1).u64(2).u64(3).i32(ctx.length - 8)
                .bytes(Arrays.copyOf(ctx, ctx.length - 8));
        expect(RecordException.class, b.done(), HVM64, "HVM_TAIL_CONTEXT", 0, tail + 24, "no END record");
        // PV: XSAVE size at most xcnt - 16 and at least 16
        LegacyBin p = new LegacyBin(Width.W64).ulong(0x10).ulong(-1).i32(0xAF0 + 8 + 12).i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0xAF0)
                .zeros(0xAF0).i32(LegacyFormat.EXT_BLOCK_XCNT).i32(4).i32(64).ulong(1)
                .i32(-2).i32(0).u64(1).i32(0).i32(0);
        int vcpu = p.pos();
        byte[] head = p.done();
        expect(RecordException.class, new LegacyBin(Width.W64).bytes(head).zeros(0xAF0).u64(7).u64(49).zeros(48).done(),
                PV64, "PV_TAIL_VCPU", 0, vcpu, "XSAVE size 49 > xcnt - 16 = 48");
        expect(RecordException.class, new LegacyBin(Width.W64).bytes(head).zeros(0xAF0).u64(7).u64(-1).zeros(48).done(),
                PV64, "PV_TAIL_VCPU", 0, vcpu, "XSAVE size 18446744073709551615 > xcnt - 16 = 48");
        expect(RecordException.class, new LegacyBin(Width.W64).bytes(head).zeros(0xAF0).u64(7).u64(15).zeros(48).done(),
                PV64, "PV_TAIL_VCPU", 0, vcpu, "XSAVE size 15 < 16");
    }

    @Test
    void compressionRules() {
        // checkpoint 0 enables compression; checkpoint 1 has one data entry but no compressed page
        LegacyBin b = hvmTail(hvm(Width.W64).i32(-2).i32(0).u64(1).i32(-13).i32(0));
        b.bytes(QemuSignature.DEVICE_MODEL_RECORD_0002.bytes()).i32(0);
        int cp1 = b.pos();
        Options o = HVM64.withCheckpointed(true);
        byte[] ok = b.done();
        LegacyBin c = new LegacyBin(Width.W64).bytes(ok).i32(1).ulong(5).i32(-2).i32(0).u64(1);
        int end = c.pos();
        expect(RecordException.class, c.i32(0).done(), o, "END_OF_BODY", 0, end, "0 whole pages, 1 data-bearing");
        // more compressed pages than entries
        c = new LegacyBin(Width.W64).bytes(ok).i32(1).ulong(5).i32(-12).ulong(2).bytes(new byte[] {0, 0});
        expect(RecordException.class, c.done(), o, "XC_SAVE_ID_COMPRESSED_DATA", -12, cp1 + 12, "more compressed pages");
        c = new LegacyBin(Width.W64).bytes(ok).i32(-12).ulong(Long.MAX_VALUE);
        expect(StreamFatalException.class, c.done(), o, "XC_SAVE_ID_COMPRESSED_DATA", -12, cp1, "exceeds");
        c = new LegacyBin(Width.W64).bytes(ok).i32(-13);
        expect(RecordException.class, c.done(), o, "XC_SAVE_ID_ENABLE_COMPRESSION", -13, cp1, "after the first checkpoint");
        // and the well-formed checkpointed stream ends cleanly at EOF after checkpoint 0
        try {
            assertEquals(new CheckpointEnd(0, false), LegacyFixtures.read(ok, o).getLast());
        } catch (StreamException e) {
            fail(e);
        }
    }

    @Test
    void poisonedAfterAnError() {
        byte[] bad = hvm(Width.W64).i32(-21).done();
        LegacyStreamReader r = new LegacyStreamReader(HVM64, i -> { });
        assertThrows(StreamFatalException.class, () -> r.feed(ByteBuffer.wrap(bad)));
        StreamFatalException again = assertThrows(StreamFatalException.class, () -> r.feed(ByteBuffer.wrap(new byte[1])));
        assertTrue(again.getMessage().contains("reader failed earlier"), again.getMessage());
        assertThrows(StreamFatalException.class, r::finish);
    }

    @Test
    void stopsAtTheEndOfTheStream() throws StreamException {
        RandomLegacyStream.Generated g = RandomLegacyStream.xenCompatible(3, GuestType.HVM, Width.W64, null);
        byte[] s = g.bytes();
        byte[] more = Arrays.copyOf(s, s.length + 7);
        LegacyStreamReader r = new LegacyStreamReader(g.options(), i -> { });
        ByteBuffer in = ByteBuffer.wrap(more);
        r.feed(in);
        assertTrue(r.isComplete());
        assertEquals(7, in.remaining(), "bytes after the stream are left for the envelope");
        assertEquals(s.length, r.offset());
    }

    /**
     * Every proper prefix of a valid stream is reported as truncated, naming the item being read: every offset in
     * the first 4 KiB, around every item boundary, and at 400 points elsewhere.
     */
    @Test
    void truncationAtEveryOffset() throws StreamException {
        for (GuestType gt : GuestType.values()) {
            for (Width w : Width.values()) {
                RandomLegacyStream.Generated g = RandomLegacyStream.xenCompatible(1, gt, w, w);
                byte[] s = g.bytes();
                java.util.TreeSet<Integer> cuts = new java.util.TreeSet<>();
                LegacyStreamReader[] holder = new LegacyStreamReader[1];
                holder[0] = new LegacyStreamReader(g.options(), i -> {
                    int o = (int) holder[0].offset();
                    for (int d = -2; d <= 2; d++) {
                        cuts.add(Math.max(0, Math.min(s.length - 1, o + d)));
                    }
                });
                holder[0].feed(ByteBuffer.wrap(s));
                holder[0].finish();
                for (int c = 0; c < s.length; c += c < 4096 ? 1 : Math.max(251, s.length / 400)) {
                    cuts.add(c);
                }
                Consumer<LegacyItem> ignore = i -> { };
                for (int cut : cuts) {
                    LegacyStreamReader r = cut % 2 == 0 ? new LegacyStreamReader(g.options(), ignore)
                            : new LegacyStreamReader(g.options(), ignore, (b, e, p) -> { });
                    r.feed(ByteBuffer.wrap(s, 0, cut));
                    StreamFatalException e = assertThrows(StreamFatalException.class, r::finish, "cut " + cut);
                    assertTrue(e.getMessage().contains("stream truncated at offset " + cut), e.getMessage());
                    assertTrue(e.offset() <= cut, e.getMessage());
                }
            }
        }
    }

    /** Random damage never produces anything but a StreamException or a successful read. */
    @Test
    void mutationsOnlyEverGiveStreamExceptions() {
        SplittableRandom r = new SplittableRandom(99);
        for (int round = 0; round < 400; round++) {
            RandomLegacyStream.Generated g = RandomLegacyStream.generate(r.nextInt(300));
            byte[] s = g.bytes();
            int n = 1 + r.nextInt(4);
            for (int k = 0; k < n; k++) {
                int at = r.nextInt(Math.min(s.length, r.nextBoolean() ? 64 : s.length));
                s[at] = (byte) (r.nextBoolean() ? r.nextInt(256) : s[at] ^ (1 << r.nextInt(8)));
            }
            if (r.nextInt(5) == 0) {
                s = Arrays.copyOf(s, r.nextInt(s.length + 1));
            }
            try {
                LegacyFixtures.read(s, r.nextBoolean() ? g.options() : Options.detect());
            } catch (StreamException expected) {
                assertTrue(expected.getMessage().contains("at offset"), expected.getMessage());
            }
        }
    }
}
