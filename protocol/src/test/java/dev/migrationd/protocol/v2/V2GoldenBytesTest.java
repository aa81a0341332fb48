package dev.migrationd.protocol.v2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.x86.TscInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Golden bytes for the headers and every record type, commented byte by byte; each is also read back. */
class V2GoldenBytesTest {

    /** Hex octets; on each line, the hex groups up to the first token that is not one start the comment. */
    static byte[] hex(String s) {
        StringBuilder b = new StringBuilder();
        for (String line : s.split("\n")) {
            for (String token : line.trim().split("\\s+")) {
                if (!token.matches("([0-9a-fA-F]{2})+")) {
                    break;
                }
                b.append(token);
            }
        }
        return HexFormat.of().parseHex(b);
    }

    static byte[] libxcPrefix(GuestType g) {
        return V2Streams.write(List.of(ImageHeader.V3, new DomainHeader(g, 4, 17)));
    }

    /** The octets one record occupies in a stream. */
    static byte[] recordBytes(GuestType g, LibxcRecord r) {
        List<V2Item> items = new ArrayList<>(List.of(ImageHeader.V3, new DomainHeader(g, 4, 17)));
        if (r.type() == RecordType.PAGE_DATA || r.type() == RecordType.X86_PV_P2M_FRAMES) {
            items.add(SignalRecord.STATIC_DATA_END);
        }
        int skip = V2Streams.write(items).length;
        items.add(r);
        byte[] all = V2Streams.write(items);
        return Arrays.copyOfRange(all, skip, all.length);
    }

    /** Writes the record, compares with the golden octets, and reads them back into an equal record. */
    static void golden(GuestType g, LibxcRecord r, String expected) throws Exception {
        byte[] want = hex(expected);
        assertArrayEquals(want, recordBytes(g, r), r.type().name());
        if (r.type() == RecordType.TOOLSTACK || r.type() == RecordType.CHECKPOINT_DIRTY_PFN_LIST) {
            return; // the reader rejects these in a forward stream (V2RejectionSmallHeapTest)
        }
        List<V2Item> items = new ArrayList<>(List.of(ImageHeader.V3, new DomainHeader(g, 4, 17)));
        if (r.type() == RecordType.PAGE_DATA || r.type() == RecordType.X86_PV_P2M_FRAMES) {
            items.add(SignalRecord.STATIC_DATA_END);
        }
        byte[] prefix = V2Streams.write(items);
        byte[] end = hex("00000000 00000000");
        byte[] stream = new byte[prefix.length + want.length + (r.type() == RecordType.END ? 0 : end.length)];
        System.arraycopy(prefix, 0, stream, 0, prefix.length);
        System.arraycopy(want, 0, stream, prefix.length, want.length);
        if (r.type() != RecordType.END) {
            System.arraycopy(end, 0, stream, prefix.length + want.length, end.length);
        }
        List<V2Item> read = V2Streams.read(stream, false);
        assertEquals(r, read.get(items.size()), r.type().name());
    }

    @Test
    void imageHeaderVersion3() {
        assertArrayEquals(hex("""
                ff ff ff ff ff ff ff ff   marker, all ones
                58 45 4e 46               id "XENF", big-endian
                00 00 00 03               version 3, big-endian
                00 00                     options: little-endian stream
                00 00                     reserved
                00 00 00 00               reserved
                """), V2Streams.write(List.of(ImageHeader.V3)));
        assertEquals(24, V2Format.IHDR_SIZE);
    }

    @Test
    void imageHeaderVersion2AndDomainHeaders() throws Exception {
        assertArrayEquals(hex("""
                ff ff ff ff ff ff ff ff  58 45 4e 46  00 00 00 02  0000 0000 00000000   v2 image header
                01 00 00 00               domain type 1 = x86 PV, little-endian
                0c 00                     page_shift 12
                00 00                     reserved
                00 00 00 00               xen_major 0: converted from legacy
                01 00 00 00               xen_minor 1: converter version
                """), V2Streams.write(List.of(ImageHeader.V2, DomainHeader.converted(GuestType.PV))));
        assertArrayEquals(hex("""
                02 00 00 00               domain type 2 = x86 HVM
                0c 00 00 00               page_shift 12, reserved
                04 00 00 00  11 00 00 00  Xen 4.17
                """), Arrays.copyOfRange(libxcPrefix(GuestType.HVM), 24, 40));
        List<V2Item> read = V2Streams.read(V2Streams.write(List.of(ImageHeader.V2,
                DomainHeader.converted(GuestType.PV), SignalRecord.END)), false);
        assertEquals(List.of(ImageHeader.V2, DomainHeader.converted(GuestType.PV), SignalRecord.END), read);
        assertEquals(16, V2Format.DHDR_SIZE);
    }

    @Test
    void signallingRecords() throws Exception {
        golden(GuestType.PV, SignalRecord.END, "00000000 00000000   type 0 END, length 0, no padding");
        golden(GuestType.PV, SignalRecord.VERIFY, "0d000000 00000000   type 0x0d VERIFY, length 0");
        golden(GuestType.PV, SignalRecord.CHECKPOINT, "0e000000 00000000   type 0x0e CHECKPOINT, length 0");
        golden(GuestType.PV, SignalRecord.STATIC_DATA_END, "10000000 00000000   type 0x10 STATIC_DATA_END");
    }

    @Test
    void pageData() throws Exception {
        ByteBuffer page = ByteBuffer.allocate(4096);
        page.put(0, (byte) 0xAB).put(4095, (byte) 0xCD);
        PageData pd = PageData.of(new long[] {PageData.entry(PageType.L1TAB_PINNED, 5),
                PageData.entry(PageType.XTAB, 0x7)}, page);
        String pageHex = "ab" + "00".repeat(4094) + "cd";
        golden(GuestType.PV, pd, """
                01000000                 type 1 PAGE_DATA
                18100000                 length 0x1018 = 8 + 2*8 + 4096
                02000000                 count 2
                00000000                 reserved
                0500000000000090         pfn[0]: type 0x9 (pinned L1) in bits 63..60, pfn 5
                07000000000000f0         pfn[1]: type 0xf XTAB with its pfn 7, no data
                """ + pageHex + """
                                         page of pfn 5; body is a multiple of 8: no padding
                """);
        assertEquals(5, pd.pfn(0));
        assertEquals(PageType.L1TAB_PINNED, pd.pageType(0));
        assertEquals((byte) 0xCD, pd.page(0).get(4095));
    }

    @Test
    void pvRecords() throws Exception {
        golden(GuestType.PV, X86PvInfo.GUEST_64, """
                02000000 08000000        type 2 X86_PV_INFO, length 8
                08 04 0000 00000000      guest width 8, 4 levels, reserved
                """);
        golden(GuestType.PV, new X86PvP2mFrames(0, 0x3f, new long[] {0x12}), """
                03000000 10000000        type 3 X86_PV_P2M_FRAMES, length 16
                00000000 3f000000        start pfn 0, end pfn 0x3f
                1200000000000000         p2m frame pfn 0x12
                """);
        golden(GuestType.PV, new VcpuRecord(RecordType.X86_PV_VCPU_BASIC, 1, ByteBuffer.allocate(0)), """
                04000000 08000000        type 4 X86_PV_VCPU_BASIC, length 8 (empty context, as Xen 4.6-4.8 sent)
                01000000 00000000        vcpu 1, reserved
                """);
        golden(GuestType.PV, new VcpuRecord(RecordType.X86_PV_VCPU_EXTENDED, 0, ByteBuffer.wrap(hex("11223344"))),
                """
                05000000 0c000000        type 5 X86_PV_VCPU_EXTENDED, length 12
                00000000 00000000        vcpu 0, reserved
                11223344                 context
                00000000                 padding to 8
                """);
        golden(GuestType.PV, new VcpuRecord(RecordType.X86_PV_VCPU_XSAVE, 2, ByteBuffer.wrap(hex(
                "0700000000000000 0700000000000000"))), """
                06000000 18000000        type 6 X86_PV_VCPU_XSAVE, length 24
                02000000 00000000        vcpu 2, reserved
                0700000000000000         xcr0
                0700000000000000         xcr0_accum (the xsave area would follow)
                """);
        golden(GuestType.PV, new VcpuRecord(RecordType.X86_PV_VCPU_MSRS, 0, ByteBuffer.wrap(hex(
                "800000c0 00000000 0100000000000000"))), """
                0c000000 18000000        type 0x0c X86_PV_VCPU_MSRS, length 24
                00000000 00000000        vcpu 0, reserved
                800000c0 00000000        msr index 0xc0000080, reserved
                0100000000000000         value 1
                """);
        ByteBuffer shared = ByteBuffer.allocate(4096);
        shared.put(0, (byte) 1);
        golden(GuestType.PV, new SharedInfoRecord(shared), """
                07000000 00100000        type 7 SHARED_INFO, length 4096
                01""" + "00".repeat(4095) + "  the page");
    }

    @Test
    void commonAndHvmRecords() throws Exception {
        golden(GuestType.HVM, new TscInfoRecord(new TscInfo(1, 0x1122334455L, 2_000_000, 3)), """
                08000000 18000000        type 8 X86_TSC_INFO, length 24
                01000000                 mode 1
                80841e00                 khz 2000000 (before nsec, unlike legacy)
                5544332211000000         nsec 0x1122334455
                03000000                 incarnation 3
                00000000                 reserved
                """);
        golden(GuestType.HVM, BlobRecord.hvmContext(ByteBuffer.wrap(hex("0100000018"))), """
                09000000 05000000        type 9 HVM_CONTEXT, length 5
                0100000018               blob
                000000                   padding to 8
                """);
        golden(GuestType.HVM, new HvmParams(List.of(new HvmParams.Param(5, 0xfeff0), new HvmParams.Param(1, 0xfeff2))),
                """
                0a000000 28000000        type 0x0a HVM_PARAMS, length 40
                02000000 00000000        count 2, reserved
                0500000000000000 f0ef0f0000000000   IOREQ_PFN = 0xfeff0
                0100000000000000 f2ef0f0000000000   STORE_PFN = 0xfeff2
                """);
        golden(GuestType.HVM, new BlobRecord(RecordType.TOOLSTACK, ByteBuffer.wrap(hex("01000000"))), """
                0b000000 04000000 01000000 00000000   type 0x0b TOOLSTACK, length 4, blob, padding
                """);
        golden(GuestType.HVM, new BlobRecord(RecordType.CHECKPOINT_DIRTY_PFN_LIST, ByteBuffer.wrap(hex(
                "0900000000000000"))), """
                0f000000 08000000 0900000000000000    type 0x0f CHECKPOINT_DIRTY_PFN_LIST, pfn 9
                """);
        golden(GuestType.HVM, new BlobRecord(RecordType.X86_CPUID_POLICY, ByteBuffer.wrap(hex(
                "00000000 ffffffff 0d000000 47656e75 6c65746e 49656e69"))), """
                11000000 18000000        type 0x11 X86_CPUID_POLICY, length 24
                00000000 ffffffff        leaf 0, subleaf ~0
                0d000000 47656e75 6c65746e 49656e69   eax..edx
                """);
        golden(GuestType.HVM, new BlobRecord(RecordType.X86_MSR_POLICY, ByteBuffer.wrap(hex(
                "ce000000 00000000 0000000000000000"))), """
                12000000 10000000        type 0x12 X86_MSR_POLICY, length 16
                ce000000 00000000 0000000000000000   msr 0xce, flags 0, value 0
                """);
    }

    @Test
    void libxlHeaderAndRecords() throws Exception {
        List<V2Item> items = List.of(new LibxlHeader(true), LibxlSignalRecord.LIBXC_CONTEXT, ImageHeader.V3,
                DomainHeader.converted(GuestType.HVM), SignalRecord.END,
                new EmulatorRecord(LibxlRecordType.EMULATOR_XENSTORE_DATA, 0, 0, ByteBuffer.wrap(hex("6b00 7600"))),
                new EmulatorRecord(LibxlRecordType.EMULATOR_CONTEXT, 0, 0, ByteBuffer.wrap(hex("5145564d"))),
                new CheckpointState(CheckpointState.SECONDARY_READY),
                LibxlSignalRecord.END);
        byte[] bytes = V2Streams.write(items);
        assertArrayEquals(hex("""
                4c6962786c466d74         ident "LibxlFmt", big-endian
                00000002                 version 2
                00000002                 options: little-endian, LEGACY (converted)
                01000000 00000000        type 1 LIBXC_CONTEXT, length 0; the libxc stream follows
                ffffffffffffffff 58454e46 00000003 0000 0000 00000000   image header
                02000000 0c00 0000 00000000 01000000                    domain header, HVM, converted
                00000000 00000000        libxc END
                02000000 0c000000        type 2 EMULATOR_XENSTORE_DATA, length 12
                00000000 00000000        emulator 0 (unknown), index 0
                6b00 7600                "k\\0v\\0"
                00000000                 padding
                03000000 0c000000        type 3 EMULATOR_CONTEXT, length 12
                00000000 00000000        emulator 0, index 0
                5145564d                 "QEVM"
                00000000                 padding
                05000000 08000000        type 5 CHECKPOINT_STATE, length 8
                02000000 00000000        control 2 (secondary ready), padding
                00000000 00000000        type 0 END
                """), bytes);
        assertEquals(items, V2Streams.read(bytes, true));
        assertArrayEquals(hex("04000000 00000000"), Arrays.copyOfRange(V2Streams.write(List.of(
                new LibxlHeader(false), LibxlSignalRecord.CHECKPOINT_END)), 16, 24), "CHECKPOINT_END");
        assertArrayEquals(hex("4c6962786c466d74 00000002 00000000"), new LibxlHeader(false).encode().array());
    }

    @Test
    void fixedSizesArePinned() {
        assertEquals(8, V2Format.RH_SIZE);
        assertEquals(16, V2Format.LIBXL_HDR_SIZE);
        assertEquals(24, V2Format.X86_TSC_INFO_SIZE);
        assertEquals(8, V2Format.X86_PV_INFO_SIZE);
        assertEquals(4096, V2Format.SHARED_INFO_SIZE);
        assertEquals(0x0FF0_0000_0000_0000L, V2Format.PAGE_DATA_PFN_RESZ_MASK);
        for (RecordType t : RecordType.values()) {
            assertEquals(t, RecordType.fromCode(t.code()));
        }
        assertEquals(0x12, RecordType.X86_MSR_POLICY.code());
        for (LibxlRecordType t : LibxlRecordType.values()) {
            assertEquals(t, LibxlRecordType.fromCode(t.code()));
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> RecordType.fromCode(0x13));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> LibxlRecordType.fromCode(6));
        assertEquals(0, V2Format.padding(0));
        assertEquals(3, V2Format.padding(5));
        assertEquals(0, V2Format.padding(4096));
    }
}
