package dev.migrationd.protocol.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class HvmContextTest {

    private static final long BASE = 1000;

    @Test
    void resetStateBlobIsHeaderCpuEndByteForByte() throws Exception {
        byte[] blob = HvmContext.resetState(1).encode();
        assertEquals(8 + 24 + 8 + 1024 + 8, blob.length);
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        // HEADER descriptor: typecode 1, instance 0, length 24
        assertEquals(1, b.getShort(0));
        assertEquals(0, b.getShort(2));
        assertEquals(24, b.getInt(4));
        // 86 12 38 54 = magic, 01 00 00 00 = version
        assertArrayEquals(new byte[] {(byte) 0x86, 0x12, 0x38, 0x54, 1, 0, 0, 0}, Arrays.copyOfRange(blob, 8, 16));
        assertEquals(-1L, b.getLong(16)); // changeset unknown
        // CPU descriptor at 32: typecode 2, instance 0, length 1024
        assertEquals(2, b.getShort(32));
        assertEquals(0, b.getShort(34));
        assertEquals(1024, b.getInt(36));
        int cpu = 40;
        assertEquals(0x037F, b.getShort(cpu + HvmHwCpu.FPU_REGS));
        assertEquals(0x1F80, b.getInt(cpu + Fxsave.MXCSR));
        assertEquals(0xFFF0L, b.getLong(cpu + HvmHwCpu.RIP));
        assertEquals(2L, b.getLong(cpu + HvmHwCpu.RFLAGS));
        assertEquals(0x60000010L, b.getLong(cpu + HvmHwCpu.CR0));
        assertEquals(0xFFFF0FF0L, b.getLong(cpu + HvmHwCpu.DR6));
        assertEquals(0x400L, b.getLong(cpu + HvmHwCpu.DR7));
        assertEquals(0xF000, b.getInt(cpu + HvmHwCpu.SEL));
        assertEquals(0xFFFF, b.getInt(cpu + HvmHwCpu.LIMIT));
        assertEquals(0xFFFF0000L, b.getLong(cpu + HvmHwCpu.BASE));
        assertEquals(0x9B, b.getInt(cpu + HvmHwCpu.ARBYTES));
        assertEquals(0x93, b.getInt(cpu + HvmHwCpu.ARBYTES + 4)); // ds
        assertEquals(0x93, b.getInt(cpu + HvmHwCpu.ARBYTES + 20)); // ss
        assertEquals(0x8B, b.getInt(cpu + HvmHwCpu.ARBYTES + 24)); // tr
        assertEquals(0x82, b.getInt(cpu + HvmHwCpu.ARBYTES + 28)); // ldtr
        assertEquals(0xFFFF, b.getInt(cpu + HvmHwCpu.LIMIT + 36)); // gdtr limit
        // END: 8 zero bytes
        assertArrayEquals(new byte[8], Arrays.copyOfRange(blob, blob.length - 8, blob.length));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 7})
    void builderAndParserRoundTrip(int vcpus) throws Exception {
        HvmContext.Builder b = HvmContext.builder(new HvmContext.Header(0x1234_5678_9ABCL, 0x306C3, 2_400_000));
        for (int v = 0; v < vcpus; v++) {
            HvmHwCpu cpu = HvmHwCpu.resetState();
            cpu.set(HvmHwCpu.RIP, 0x1000 + v);
            cpu.set(HvmHwCpu.TSC, 99L * v);
            b.addCpu(v, cpu);
        }
        b.add(HvmSaveType.PIC, 0, new byte[8]).add(HvmSaveType.PIC, 1, new byte[8]);
        byte[] msr = new byte[8 + 16 * 2];
        msr[0] = 2;
        b.add(HvmSaveType.CPU_MSR, 0, msr);
        HvmContext ctx = b.build();
        byte[] blob = ctx.encode();
        assertEquals(ctx.encodedSize(), blob.length);

        HvmContext back = HvmContext.parse(blob, BASE);
        assertEquals(ctx.header(), back.header());
        assertEquals(ctx.entries(), back.entries());
        assertEquals(vcpus, back.cpus().size());
        assertEquals(0x1000L + vcpus - 1, back.cpus().get(vcpus - 1).rip());
        assertArrayEquals(blob, back.encode());
    }

    @Test
    void acceptsTheCompatCpuRecord() throws Exception {
        HvmContext ctx = HvmContext.builder(HvmContext.Header.DEFAULT)
                .add(HvmSaveType.CPU, 0, Arrays.copyOf(HvmHwCpu.resetState().toByteArray(), 1016)).build();
        assertEquals(1016, HvmContext.parse(ctx.encode(), 0).entries().get(0).length());
    }

    @Test
    void acceptsXen47sCpuRecordWithItsFlagsAndReadsTheRegistersFromIt() throws Exception {
        // Xen >= 4.7 appends u32 flags (bit 0: FPU initialised) and u32 pad: 1032 bytes, what Xen 4.17 writes
        HvmHwCpu cpu = HvmHwCpu.resetState();
        byte[] body = Arrays.copyOf(cpu.toByteArray(), HvmSaveType.CPU_FLAGS_LENGTH);
        body[1024] = 1;
        HvmContext ctx = HvmContext.builder(HvmContext.Header.DEFAULT).add(HvmSaveType.CPU, 0, body).build();
        HvmContext back = HvmContext.parse(ctx.encode(), 0);
        assertEquals(1032, back.entries().get(0).length());
        assertEquals(1, back.cpus().size());
        assertEquals(cpu.rip(), back.cpus().get(0).rip());
        assertArrayEquals(ctx.encode(), back.encode(), "kept as it came, flags and all");
        // a length no Xen writes: the 1032-byte record grown by 8 bytes in place
        byte[] grown = firstRecordGrownBy8(ctx.encode());
        RecordException odd = assertThrows(RecordException.class, () -> HvmContext.parse(grown, 0));
        assertTrue(odd.getMessage().contains("CPU record length 1040, expected 1024 (or 1016, 1032: other Xen versions)"),
                odd.getMessage());
    }

    /**
     * {@code blob} with the record after HEADER (HEADER 8+24 bytes, then that record's descriptor at 32, its u32
     * length at 36 and its body at 40) made 8 bytes longer in place, its descriptor saying so.
     */
    private static byte[] firstRecordGrownBy8(byte[] blob) {
        ByteBuffer in = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        int length = in.getInt(36);
        byte[] grown = new byte[blob.length + 8];
        System.arraycopy(blob, 0, grown, 0, 40 + length);
        System.arraycopy(blob, 40 + length, grown, 40 + length + 8, blob.length - 40 - length);
        ByteBuffer.wrap(grown).order(ByteOrder.LITTLE_ENDIAN).putInt(36, length + 8);
        return grown;
    }

    /** The records whose structure grew over Xen's versions: every size a Xen writes is read and kept. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"VMCE_VCPU,8", "VMCE_VCPU,24", "VMCE_VCPU,32", "VIRIDIAN_DOMAIN,16",
        "VIRIDIAN_DOMAIN,24", "VIRIDIAN_DOMAIN,32", "VIRIDIAN_VCPU,8", "VIRIDIAN_VCPU,16", "VIRIDIAN_VCPU,216"})
    void readsEverySizeAXenWritesOfARecordThatGrew(HvmSaveType type, int length) throws Exception {
        byte[] body = new byte[length];
        Arrays.fill(body, (byte) 0x5C);
        HvmContext ctx = HvmContext.builder(HvmContext.Header.DEFAULT).add(type, 0, body).build();
        HvmContext back = HvmContext.parse(ctx.encode(), 0);
        assertEquals(length, back.entries().get(0).length());
        assertArrayEquals(ctx.encode(), back.encode(), "kept as it came");
    }

    @Test
    void aVmceRecordOfASizeNoXenWritesIsRefusedWithTheSizesThatAre() {
        // Xen 4.17's 32-byte record grown by 8 bytes in place
        byte[] grown = firstRecordGrownBy8(
                HvmContext.builder(HvmContext.Header.DEFAULT).add(HvmSaveType.VMCE_VCPU, 0, new byte[32]).build().encode());
        RecordException odd = assertThrows(RecordException.class, () -> HvmContext.parse(grown, 0));
        assertTrue(odd.getMessage().contains("VMCE_VCPU record length 40, expected 24 (or 8, 32: other Xen versions)"),
                odd.getMessage());
    }

    static Stream<Arguments> malformed() {
        int cpu = 40; // first CPU record's body offset in a reset-state blob (HEADER 8+24, CPU descriptor 8)
        return Stream.of(
                bad("empty blob", b -> new byte[0], 0, "without an END"),
                bad("truncated descriptor", b -> Arrays.copyOf(b, 5), 0, "truncated record descriptor"),
                bad("missing END", b -> Arrays.copyOf(b, b.length - 8), b(cpu + 1024), "without an END"),
                bad("bad magic", b -> put32(b, 8, 0x12345678), 8, "bad magic"),
                bad("bad version", b -> put32(b, 12, 2), 12, "unsupported version 2"),
                bad("header instance", b -> put16(b, 2, 1), 0, "HEADER instance 1"),
                bad("header length", b -> put32(b, 4, 16), 0, "HEADER record length 16"),
                bad("first is not HEADER", b -> Arrays.copyOfRange(b, 32, b.length), 0, "must start with a HEADER"),
                bad("unknown typecode", b -> put16(b, 32, 21), 32, "unknown HVM save typecode 21"),
                bad("cpu length 1000", b -> put32(b, 36, 1000), 32, "CPU record length 1000"),
                bad("length beyond blob", b -> put32(b, 36, 0x7FFFFFF0), 32, "exceeds"),
                bad("length u32 max", b -> put32(b, 36, -1), 32, "exceeds"),
                bad("cr0 without ET", b -> put32(b, cpu + HvmHwCpu.CR0, 0x60000000), cpu + HvmHwCpu.CR0,
                        "lacks ET"),
                bad("cr0 PG without PE", b -> put32(b, cpu + HvmHwCpu.CR0, 0x80000010), cpu + HvmHwCpu.CR0,
                        "PG without PE"),
                bad("cr0 reserved", b -> put32(b, cpu + HvmHwCpu.CR0 + 4, 1), cpu + HvmHwCpu.CR0,
                        "reserved bits"),
                bad("trailing bytes", b -> Arrays.copyOf(b, b.length + 3), b(8 + 24 + 8 + 1024 + 8),
                        "3 trailing bytes"),
                bad("END with instance", b -> put16(b, b.length - 6, 1), b(8 + 24 + 8 + 1024), "END instance 1"),
                bad("duplicate cpu", HvmContextTest::duplicateCpu, b(8 + 24 + 8 + 1024), "duplicate CPU"));
    }

    private static int b(int v) {
        return v;
    }

    private static byte[] duplicateCpu(byte[] blob) {
        int cpuRec = 8 + 1024;
        byte[] out = new byte[blob.length + cpuRec];
        System.arraycopy(blob, 0, out, 0, 32 + cpuRec);
        System.arraycopy(blob, 32, out, 32 + cpuRec, blob.length - 32);
        return out;
    }

    private static Arguments bad(String name, UnaryOperator<byte[]> corrupt, int blobOffset, String message) {
        return Arguments.of(name, corrupt, blobOffset, message);
    }

    private static byte[] put32(byte[] b, int off, int v) {
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(off, v);
        return b;
    }

    private static byte[] put16(byte[] b, int off, int v) {
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putShort(off, (short) v);
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void rejectsMalformedContexts(String name, UnaryOperator<byte[]> corrupt, int blobOffset, String message) {
        byte[] blob = corrupt.apply(HvmContext.resetState(1).encode());
        RecordException e = assertThrows(RecordException.class, () -> HvmContext.parse(blob, BASE));
        assertTrue(e.getMessage().contains(message), e.getMessage());
        assertTrue(e.item().startsWith(HvmContext.ITEM), e.item());
        assertEquals(BASE + blobOffset, e.offset(), e.getMessage());
    }

    @Test
    void errorNamesTheRecordType() {
        byte[] blob = put32(HvmContext.resetState(1).encode(), 36, 1000);
        RecordException e = assertThrows(RecordException.class, () -> HvmContext.parse(blob, 0));
        assertEquals("HVM_CONTEXT/CPU", e.item());
        assertEquals(2, e.code());
    }

    @Test
    void builderRefusesWrongLengthsAndFraming() {
        HvmContext.Builder b = HvmContext.builder(HvmContext.Header.DEFAULT);
        assertThrows(IllegalArgumentException.class, () -> b.add(HvmSaveType.CPU, 0, new byte[100]));
        assertThrows(IllegalArgumentException.class, () -> b.add(HvmSaveType.END, 0, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> b.add(HvmSaveType.PIC, 0x10000, new byte[8]));
        assertThrows(IllegalArgumentException.class, () -> HvmSaveType.fromCode(21));
    }

    @Test
    void qemuSavevmBlobHasMagicAndVersion() {
        byte[] q = QemuSavevm.minimal(QemuSavevm.MACHINE_XENFV);
        assertArrayEquals(new byte[] {'Q', 'E', 'V', 'M', 0, 0, 0, 3, 7, 0, 0, 0, 5, 'x', 'e', 'n', 'f', 'v', 0}, q);
        assertTrue(QemuSavevm.hasSavevmHeader(q));
        assertTrue(!QemuSavevm.hasSavevmHeader(new byte[] {'Q', 'E', 'V', 'M', 0, 0, 0, 2}));
    }
}
