package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class ToolstackWrappersTest {

    @Test
    void xlHeaderGoldenAndRoundTrip() throws StreamException {
        byte[] cfg = "{}\0".getBytes(StandardCharsets.US_ASCII);
        byte[] b = ToolstackWrappers.XlHeader.withConfig(cfg, true).toBytes();
        assertArrayEquals(HexFormat.of().parseHex(
                "58656e20736176656420646f6d61696e2c20786c20666f726d61740a2000200d"   // magic, 32 bytes
                + "04030201"                                                         // byteorder marker LE
                + "01000000"                                                         // mandatory: JSON
                + "00000000"                                                         // optional flags
                + "07000000"                                                         // optional_data_len 7
                + "03000000" + "7b7d00"), b);                                        // config_len 3, "{}\0"
        ByteBuffer in = ByteBuffer.wrap(java.util.Arrays.copyOf(b, b.length + 5));
        ToolstackWrappers.XlHeader h = ToolstackWrappers.readXlHeader(in);
        assertEquals(55, in.position());
        assertEquals(Bytes.of(cfg), h.config());
        b[36] = 2; // STREAMv2
        RecordException e = assertThrows(RecordException.class, () -> ToolstackWrappers.readXlHeader(ByteBuffer.wrap(b)));
        assertTrue(e.getMessage().contains("STREAMv2"), e.getMessage());
        b[36] = 4;
        assertThrows(RecordException.class, () -> ToolstackWrappers.readXlHeader(ByteBuffer.wrap(b)));
        b[0] = 'x';
        assertThrows(StreamFatalException.class, () -> ToolstackWrappers.readXlHeader(ByteBuffer.wrap(b)));
    }

    @Test
    void xendHeaderIsBigEndian() throws StreamException {
        byte[] b = new ToolstackWrappers.XendHeader(Bytes.of("(vm)".getBytes(StandardCharsets.US_ASCII))).toBytes();
        assertArrayEquals(HexFormat.of().parseHex("4c696e757847756573745265636f7264" + "00000004" + "28766d29"), b);
        assertEquals("(vm)", new String(ToolstackWrappers.readXendHeader(ByteBuffer.wrap(b)).config().toArray(),
                StandardCharsets.US_ASCII));
        b[16] = (byte) 0x80;
        assertThrows(StreamFatalException.class, () -> ToolstackWrappers.readXendHeader(ByteBuffer.wrap(b)));
    }

    @Test
    void toolstackPhysmapJunkBytes() {
        List<ToolstackPhysmap.Entry> e = List.of(new ToolstackPhysmap.Entry(0xf0000000L, 0xf1000000L, 0x800000, "vga"));
        Bytes w64 = ToolstackPhysmap.encode(Width.W64, e);
        Bytes w32 = ToolstackPhysmap.encode(Width.W32, e);
        assertEquals(8 + 28 + 4 + 4, w64.size()); // name "vga\0" then 4 junk bytes on a 64-bit toolstack
        assertEquals(8 + 28 + 4, w32.size());
        assertEquals(e, ToolstackPhysmap.decode(Width.W64, w64));
        assertEquals(e, ToolstackPhysmap.decode(Width.W32, w32));
        assertArrayEquals(HexFormat.of().parseHex(
                "01000000" + "01000000"        // version 1, count 1
                + "000000f000000000"           // phys_offset 0xf0000000
                + "000000f100000000"           // start_addr 0xf1000000
                + "0000800000000000"           // size 0x800000
                + "04000000" + "76676100"),    // namelen 4, "vga\0" (no junk on a 32-bit toolstack)
                w32.toArray());
    }
}
