package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.testing.LegacyFixtures;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every chunk's bytes, commented byte by byte; fixed sizes pinned. */
class LegacyGoldenBytesTest {

    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replaceAll("#[^\\n]*", "").replaceAll("[\\s|]", ""));
    }

    /** Bytes the writer produces for {@code item} after an HVM W64 header with p2m_size 0x100. */
    private static byte[] hvmChunk(Width w, LegacyItem... items) throws IOException {
        LegacyFixtures.ByteArraySink sink = new LegacyFixtures.ByteArraySink();
        LegacyStreamWriter wr = new LegacyStreamWriter(sink, w, GuestType.HVM, true);
        wr.write(new HvmHeader(0x100));
        long start = wr.bytesWritten();
        for (LegacyItem i : items) {
            wr.write(i);
        }
        byte[] all = sink.toByteArray();
        return Arrays.copyOfRange(all, (int) start, all.length);
    }

    @Test
    void constantsPinned() {
        assertEquals(-7, LegacyFormat.XC_SAVE_ID_TSC_INFO);
        assertEquals(1024, LegacyFormat.MAX_BATCH_SIZE);
        assertEquals(0x1430, LegacyFormat.VCPU_CONTEXT_SIZE_X86_64);
        assertEquals(0xAF0, LegacyFormat.VCPU_CONTEXT_SIZE_X86_32);
        assertEquals(4105, LegacyFormat.WORST_COMP_PAGE_SIZE);
        assertEquals(4097, LegacyFormat.FULL_PAGE_SIZE);
        for (int c = -1; c >= -20; c--) {
            assertEquals(c, ChunkType.fromCode(c).code());
        }
        assertEquals(20, ChunkType.values().length);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ChunkType.fromCode(-21));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ChunkType.fromCode(0));
        assertEquals("XC_SAVE_ID_HVM_NR_IOREQ_SERVER_PAGES", ChunkType.fromCode(-20).xenName());
        assertEquals("vcpu", new String(ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putInt(LegacyFormat.EXT_BLOCK_VCPU).array(), java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Test
    void hvmHeaderBothWidths() throws IOException {
        LegacyFixtures.ByteArraySink s = new LegacyFixtures.ByteArraySink();
        new LegacyStreamWriter(s, Width.W64, GuestType.HVM).write(new HvmHeader(0x100));
        assertArrayEquals(hex("00 01 00 00 00 00 00 00"), s.toByteArray()); // ulong p2m_size, W=8
        s = new LegacyFixtures.ByteArraySink();
        new LegacyStreamWriter(s, Width.W32, GuestType.HVM).write(new HvmHeader(0x100));
        assertArrayEquals(hex("00 01 00 00"), s.toByteArray());             // ulong p2m_size, W=4
    }

    @Test
    void pvHeaderW32Guest64() throws IOException {
        LegacyFixtures.ByteArraySink s = new LegacyFixtures.ByteArraySink();
        PvHeader h = new PvHeader(0x40, Bytes.zeros(0x1430), true, 0x340, new long[] {0x3f});
        new LegacyStreamWriter(s, Width.W32, GuestType.PV).write(h);
        byte[] b = s.toByteArray();
        assertEquals(4 + 4 + 4 + 8 + 0x1430 + 8 + 12 + 4, b.length);
        assertArrayEquals(hex("""
                40 00 00 00   # p2m_size 0x40 (W=4)
                ff ff ff ff   # extended-info signature ~0
                4c 14 00 00   # total = 0x1430+8 + 0+8 + 4+8 = 0x144c
                76 63 70 75 | 30 14 00 00   # "vcpu", size 0x1430 (64-bit guest)
                """), Arrays.copyOf(b, 20));
        assertArrayEquals(hex("""
                65 78 74 76 | 00 00 00 00   # "extv", size 0
                78 63 6e 74 | 04 00 00 00 | 40 03 00 00   # "xcnt", size 4, xsave_len 0x340
                3f 00 00 00   # p2m frame list: 1 entry (ceil(0x40/512)), pfn 0x3f
                """), Arrays.copyOfRange(b, 20 + 0x1430, b.length));
    }

    @Test
    void pageBatchW64AndW32() throws IOException {
        byte[] page = new byte[4096];
        page[0] = 0x11;
        page[4095] = 0x22;
        int[] entries = {0x0000_0005, 0xF000_0000, 0xE000_0007, 0x9000_0008};
        // data pages: entries 0 (NOTAB) and 3 (pinned L1); XTAB and XALLOC carry none
        PageBatch b = PageBatch.of(entries, ByteBuffer.wrap(page), ByteBuffer.wrap(page));
        LegacyFixtures.ByteArraySink s = new LegacyFixtures.ByteArraySink();
        LegacyStreamWriter w = new LegacyStreamWriter(s, Width.W64, GuestType.PV);
        w.write(new PvHeader(0x10, Bytes.zeros(0xAF0), true, 0, new long[] {1}));
        long start = w.bytesWritten();
        w.write(b);
        byte[] all = s.toByteArray();
        byte[] got = Arrays.copyOfRange(all, (int) start, all.length);
        assertEquals(4 + 4 * 8 + 2 * 4096, got.length);
        assertArrayEquals(hex("""
                04 00 00 00   # count 4
                05 00 00 00 00 00 00 00   # NOTAB pfn 5
                00 00 00 f0 00 00 00 00   # XTAB, exactly 0xF0000000
                07 00 00 e0 00 00 00 00   # XALLOC pfn 7
                08 00 00 90 00 00 00 00   # LPINTAB|L1TAB pfn 8
                11   # first byte of the first page
                """), Arrays.copyOf(got, 37));
        assertEquals(0x22, got[36 + 4095]);
        assertEquals(0x11, got[36 + 4096]);

        byte[] w32 = hvmChunk(Width.W32, PageBatch.of(new int[] {0xF000_0000, 0xD000_0003, 0x0000_00FF},
                ByteBuffer.wrap(page)));
        assertArrayEquals(hex("""
                03 00 00 00   # count 3
                00 00 00 f0   # XTAB
                03 00 00 d0   # BROKEN pfn 3 (no data)
                ff 00 00 00   # NOTAB pfn 0xff
                11   # page of pfn 0xff
                """), Arrays.copyOf(w32, 17));
        assertEquals(16 + 4096, w32.length);
    }

    @Test
    void xtabWithPfnIsWrittenAsExactlyF0000000() throws IOException {
        byte[] got = hvmChunk(Width.W32, PageBatch.of(new int[] {0xF000_0042, 0xE000_0001}));
        assertArrayEquals(hex("02 00 00 00 | 00 00 00 f0 | 01 00 00 e0"), got);
    }

    @Test
    void metadataChunks() throws IOException {
        assertArrayEquals(hex("ff ff ff ff"), chunkAfterBatch(new Marker(ChunkType.ENABLE_VERIFY_MODE)));
        // −7 TSC_INFO: u32 mode, u64 nsec, u32 khz, u32 incarnation — 24 bytes with the id
        assertArrayEquals(hex("""
                f9 ff ff ff   # id −7
                01 00 00 00   # tsc_mode 1
                15 cd 5b 07 00 00 00 00   # nsec 123456789 (before khz)
                00 9f 24 00   # khz 2400000
                03 00 00 00   # incarnation 3
                """), hvmChunk(Width.W64, new TscInfoChunk(new TscInfo(1, 123456789L, 2400000, 3))));
        // −2 VCPU_INFO with max_vcpu_id 64: two map words
        assertArrayEquals(hex("""
                fe ff ff ff   # id −2
                40 00 00 00   # max_vcpu_id 64
                03 00 00 00 00 00 00 00   # vcpus 0,1
                01 00 00 00 00 00 00 00   # vcpu 64
                """), hvmChunk(Width.W64, VcpuInfo.ofOnline(0, 1, 64)));
        // HVM pad+u64 chunks, 16 bytes
        assertArrayEquals(hex("""
                fe ff ff ff 00 00 00 00 01 00 00 00 00 00 00 00   # VCPU_INFO max 0, map {0}
                f2 ff ff ff | 00 00 00 00 | 00 f0 0f 00 00 00 00 00   # −14 GENERATION_ID_ADDR, pad, 0xff000
                fd ff ff ff | 00 00 00 00 | 00 c0 ff fe 00 00 00 00   # −3 IDENT_PT 0xfeffc000
                f6 ff ff ff | 00 00 00 00 | 01 00 00 00 00 00 00 00   # −10 ACPI_IOPORTS_LOCATION 1
                ed ff ff ff | 00 00 00 00 | 08 00 00 00 00 00 00 00   # −19 IOREQ_SERVER_PFN 8
                ec ff ff ff | 00 00 00 00 | 02 00 00 00 00 00 00 00   # −20 NR_IOREQ_SERVER_PAGES 2
                ee ff ff ff | 08 00 00 00 | 01 00 00 00 00 00 00 00   # −18 TOOLSTACK len 8: version 1, count 0
                f7 ff ff ff   # −9 LAST_CHECKPOINT
                00 00 00 00   # end of body
                """), hvmChunk(Width.W64, VcpuInfo.ofOnline(0),
                new HvmParam(ChunkType.HVM_GENERATION_ID_ADDR, 0xff000),
                new HvmParam(ChunkType.HVM_IDENT_PT, 0xfeffc000L),
                new HvmParam(ChunkType.HVM_ACPI_IOPORTS_LOCATION, 1),
                new HvmParam(ChunkType.HVM_IOREQ_SERVER_PFN, 8),
                new HvmParam(ChunkType.HVM_NR_IOREQ_SERVER_PAGES, 2),
                new Toolstack(ToolstackPhysmap.encode(Width.W64, List.of())),
                new Marker(ChunkType.LAST_CHECKPOINT), new EndOfBody()));
        assertArrayEquals(hex("""
                fe ff ff ff 00 00 00 00 01 00 00 00 00 00 00 00   # VCPU_INFO
                f3 ff ff ff   # −13 ENABLE_COMPRESSION
                """), hvmChunk(Width.W64, VcpuInfo.ofOnline(0), new Marker(ChunkType.ENABLE_COMPRESSION)));
    }

    private static byte[] chunkAfterBatch(LegacyItem item) throws IOException {
        byte[] withBatch = hvmChunk(Width.W64, PageBatch.of(new int[] {0xE000_0001}), item);
        return Arrays.copyOfRange(withBatch, 12, withBatch.length);
    }

    @Test
    void tmemAndTmemExtra() throws IOException {
        Tmem t = new Tmem(1, 2, 3, 4, 5, List.of(
                new TmemPool(7, 1, 2, 0x11, 0x22, List.of(new TmemPage(1, 2, 3, 9, Bytes.zeros(4096))), true),
                new TmemPool(8, 0, 0, 0x33, 0x44, List.of(), false)));
        byte[] b = hvmChunk(Width.W64, t);
        assertEquals(4 + 28 + (4 + 24 + 24 + 4 + 4096 + 24) + (4 + 24) + 4, b.length);
        assertArrayEquals(hex("""
                fb ff ff ff   # id −5
                01 00 00 00 02 00 00 00 ff ff ff ff   # version 1, max_pools 2, separator
                03 00 00 00 04 00 00 00 05 00 00 00 ff ff ff ff   # client_flags, weight, cap, separator
                07 00 00 00 01 00 00 00 02 00 00 00   # pool 7, flags persistent, n_pages 2
                11 00 00 00 00 00 00 00 22 00 00 00 00 00 00 00   # uuid
                01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00   # oid
                09 00 00 00   # index 9, then 4096 bytes
                """), Arrays.copyOf(b, 4 + 28 + 28 + 24 + 4));
        assertArrayEquals(hex("""
                ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff   # early end (all-ones oid)
                08 00 00 00 00 00 00 00 00 00 00 00   # pool 8, not persistent, n_pages 0
                33 00 00 00 00 00 00 00 44 00 00 00 00 00 00 00
                ff ff ff ff   # end of pools
                """), Arrays.copyOfRange(b, b.length - 24 - 28 - 4, b.length));
        byte[] x = hvmChunk(Width.W64, new TmemExtra(List.of(new TmemInvalidation(3, 4, 5, 6, 7))));
        assertArrayEquals(hex("""
                fa ff ff ff   # id −6
                03 00 00 00   # pool 3
                04 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00   # oid
                07 00 00 00   # index
                ff ff ff ff   # end
                """), x);
    }

    @Test
    void compressedDataLengthIsUlong() throws IOException {
        // checkpoint 0 enables compression, checkpoint 1 is Format B
        LegacyFixtures.ByteArraySink s = new LegacyFixtures.ByteArraySink();
        LegacyStreamWriter w = new LegacyStreamWriter(s, Width.W32, GuestType.HVM, true);
        for (LegacyItem i : List.of(new HvmHeader(16), VcpuInfo.ofOnline(0), new Marker(ChunkType.ENABLE_COMPRESSION),
                new EndOfBody(), new HvmMagicPfns(1, 2, 3), new HvmTailContext(LegacyFixtures.minimalHvmContext(1)),
                new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, Bytes.EMPTY))) {
            w.write(i);
        }
        long start = w.bytesWritten();
        w.write(PageBatch.pfnsOnly(new int[] {5}));
        w.write(new CompressedData(Bytes.of(new byte[] {0})));
        byte[] all = s.toByteArray();
        assertArrayEquals(hex("""
                01 00 00 00 | 05 00 00 00   # Format B batch: count 1, pfn 5, no page
                f4 ff ff ff   # −12 COMPRESSED_DATA
                01 00 00 00   # ulong len 1 (W=4)
                00   # EMPTY page
                """), Arrays.copyOfRange(all, (int) start, all.length));
    }

    @Test
    void tails() throws IOException, StreamException {
        byte[] b = hvmChunk(Width.W64, VcpuInfo.ofOnline(0), new EndOfBody(), new HvmMagicPfns(0xff, 0xfe, 0xfd),
                new HvmTailContext(LegacyFixtures.minimalHvmContext(1)),
                new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, Bytes.of(new byte[] {'Q', 'E', 'V', 'M'})));
        int t = 16 + 4;
        assertArrayEquals(hex("""
                ff 00 00 00 00 00 00 00 | fe 00 00 00 00 00 00 00 | fd 00 00 00 00 00 00 00   # magic pfns
                30 04 00 00   # hvm_ctx_len 0x430
                01 00 00 00 18 00 00 00   # HEADER descriptor: code 1, instance 0, length 24
                86 12 38 54 01 00 00 00   # magic 0x54381286, version 1
                """), Arrays.copyOfRange(b, t, t + 24 + 4 + 16));
        assertArrayEquals(hex("""
                00 00 00 00 00 00 00 00   # END descriptor
                44 65 76 69 63 65 4d 6f 64 65 6c 52 65 63 6f 72 64 30 30 30 32   # "DeviceModelRecord0002"
                04 00 00 00 51 45 56 4d   # u32 len 4, state
                """), Arrays.copyOfRange(b, t + 28 + 1072 - 8, b.length));

        LegacyFixtures.ByteArraySink s = new LegacyFixtures.ByteArraySink();
        LegacyStreamWriter w = new LegacyStreamWriter(s, Width.W32, GuestType.PV);
        w.write(new PvHeader(0x10, Bytes.zeros(0xAF0), false, 0, new long[] {1}));
        w.write(VcpuInfo.ofOnline(0));
        w.write(new EndOfBody());
        long start = w.bytesWritten();
        w.write(new PvUnmappedPfns(new long[] {3, 9}));
        byte[] all = s.toByteArray();
        assertArrayEquals(hex("02 00 00 00 | 03 00 00 00 | 09 00 00 00"), Arrays.copyOfRange(all, (int) start, all.length));
    }

    @Test
    void qemuToEndOfStream() throws IOException, StreamException {
        byte[] all = LegacyFixtures.write(Width.W64, GuestType.HVM, false, List.of(new HvmHeader(1),
                VcpuInfo.ofOnline(0), new EndOfBody(), new HvmMagicPfns(0, 0, 0),
                new HvmTailContext(LegacyFixtures.minimalHvmContext(1)),
                new QemuRecord(QemuSignature.QEMU_DEVICE_MODEL_RECORD, Bytes.of(new byte[] {'Q', 'E', 'V', 'M', 3}))));
        assertArrayEquals(hex("51 65 6d 75 44 65 76 69 63 65 4d 6f 64 65 6c 52 65 63 6f 72 64 | 51 45 56 4d 03"),
                Arrays.copyOfRange(all, all.length - 26, all.length)); // "QemuDeviceModelRecord", no length
    }
}
