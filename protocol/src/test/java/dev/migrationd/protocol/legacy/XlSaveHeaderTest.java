package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * xl's save-file header, with files written byte by byte from Xen's description of it ({@code struct
 * save_file_header} in tools/xl/xl.h: 32-byte magic, then u32 byteorder, mandatory_flags, optional_flags,
 * optional_data_len in the writer's order, then the optional data: u32 config_len and the config), not by this
 * project's writer.
 */
class XlSaveHeaderTest {

    /** "Xen saved domain, xl format\n \0 \r" spelt out. */
    private static final String MAGIC_HEX = "58656e20736176656420646f6d61696e2c20786c20666f726d61740a20" + "00" + "20" + "0d";

    private static byte[] hex(String h) {
        return HexFormat.of().parseHex(h.replace(" ", ""));
    }

    private static String le32(long v) {
        return String.format("%02x%02x%02x%02x", v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, (v >> 24) & 0xFF);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    /** A header as Xen 4.17's xl save writes it before a libxl v2 stream: flags JSON|STREAMv2, config with its NUL. */
    private static byte[] xl417(byte[] configWithNul) {
        return concat(hex(MAGIC_HEX + "04030201" + "03000000" + "00000000" + le32(4 + configWithNul.length)
                + le32(configWithNul.length)), configWithNul);
    }

    private static XlSaveHeader read(byte[] file) throws IOException, StreamException {
        return XlSaveHeader.read(new ByteArrayInputStream(file));
    }

    @Test
    void theMagicIsXlsThirtyTwoBytes() {
        assertArrayEquals(hex(MAGIC_HEX), ToolstackWrappers.XL_MAGIC);
    }

    @Test
    void aHeaderAsXl417WritesItGivesItsJsonConfigAndLeavesTheStreamNext() throws Exception {
        byte[] config = "{\n    \"c_info\": {\n        \"type\": \"pvh\",\n        \"name\": \"g\"\n    }\n}\n\0"
                .getBytes(StandardCharsets.UTF_8);
        byte[] stream = "LibxlFmt".getBytes(StandardCharsets.US_ASCII);
        ByteArrayInputStream in = new ByteArrayInputStream(concat(xl417(config), stream));
        XlSaveHeader h = XlSaveHeader.read(in);
        assertTrue(h.json());
        assertTrue(h.streamV2());
        assertArrayEquals(config, h.config());
        assertFalse(h.configText().endsWith("\0"), "the C string's NUL is not part of the text");
        assertTrue(h.configText().contains("\"type\": \"pvh\""));
        assertEquals(48 + 4 + config.length, h.length());
        assertArrayEquals(stream, in.readAllBytes(), "the stream starts right after the optional data");
        assertArrayEquals(xl417(config), XlSaveHeader.forStreamV2(config, true), "our writer writes what xl writes");
    }

    @Test
    void noOptionalDataMeansNoConfigurationAsInXlSaveWithoutOne() throws Exception {
        XlSaveHeader h = read(hex(MAGIC_HEX + "04030201" + "02000000" + "00000000" + "00000000"));
        assertNull(h.config());
        assertTrue(h.streamV2());
        assertFalse(h.json());
        assertEquals(48, h.length());
    }

    @Test
    void aLegacyFileFromXen44CarriesConfigTextAndNoStreamV2Flag() throws Exception {
        byte[] cfg = "name = \"g\"\nmemory = 128\nkernel = \"/boot/vmlinuz\"\n".getBytes(StandardCharsets.US_ASCII);
        XlSaveHeader h = read(concat(hex(MAGIC_HEX + "04030201" + "00000000" + "00000000" + le32(4 + cfg.length)
                + le32(cfg.length)), cfg));
        assertFalse(h.json());
        assertFalse(h.streamV2());
        assertEquals("name = \"g\"\nmemory = 128\nkernel = \"/boot/vmlinuz\"\n", h.configText());
    }

    @Test
    void optionalDataAfterTheConfigAndUnknownOptionalFlagsAreSkippedAsXlDoes() throws Exception {
        byte[] cfg = "{}\0".getBytes(StandardCharsets.US_ASCII);
        byte[] tail = hex("deadbeefcafe");
        ByteArrayInputStream in = new ByteArrayInputStream(concat(hex(MAGIC_HEX + "04030201" + "03000000" + "05000080"
                + le32(4 + cfg.length + tail.length) + le32(cfg.length)), cfg, tail, hex("ffffffffffffffff")));
        XlSaveHeader h = XlSaveHeader.read(in);
        assertArrayEquals(cfg, h.config());
        assertEquals(0x80000005, h.optionalFlags());
        assertEquals(4 + cfg.length + tail.length, h.optionalDataBytes());
        assertArrayEquals(hex("ffffffffffffffff"), in.readAllBytes(), "the stream starts after the whole optional data");
    }

    @Test
    void aBigEndianWritersByteOrderIsRefusedByName() {
        StreamException e = assertThrows(StreamException.class,
                () -> read(hex(MAGIC_HEX + "01020304" + "00000003" + "00000000" + "00000000")));
        assertEquals(32, e.offset());
        assertTrue(e.getMessage().contains("big-endian"), e.getMessage());
        assertTrue(e.getMessage().contains("byteorder"), e.getMessage());
    }

    @Test
    void aDamagedByteOrderMarkerIsRefused() {
        StreamException e = assertThrows(StreamException.class,
                () -> read(hex(MAGIC_HEX + "04030200" + "03000000" + "00000000" + "00000000")));
        assertTrue(e.getMessage().contains("byteorder is 0x20304"), e.getMessage());
    }

    @ParameterizedTest(name = "mandatory_flags {0}")
    @CsvSource({"04000000, 0x4", "07000000, 0x4", "00000080, 0x80000000"})
    void unknownMandatoryFlagsAreRefusedNamingTheBits(String flags, String bits) {
        StreamException e = assertThrows(StreamException.class,
                () -> read(hex(MAGIC_HEX + "04030201" + flags + "00000000" + "00000000")));
        assertEquals(36, e.offset());
        assertTrue(e.getMessage().contains("bit(s) " + bits), e.getMessage());
    }

    @Test
    void anOptionalDataLengthAboveTheLimitIsRefusedBeforeAnythingIsRead() {
        // 0xFFFFFFF0 bytes of optional data: refused from the 48 bytes alone
        StreamException e = assertThrows(StreamException.class,
                () -> read(hex(MAGIC_HEX + "04030201" + "03000000" + "00000000" + "f0ffffff")));
        assertEquals(44, e.offset());
        assertTrue(e.getMessage().contains("optional_data_len 4294967280 exceeds the limit of "
                + ToolstackWrappers.XL_MAX_OPTIONAL_DATA), e.getMessage());
    }

    @Test
    void optionalDataTooShortForItsConfigLengthIsTruncated() {
        StreamException e = assertThrows(StreamException.class,
                () -> read(hex(MAGIC_HEX + "04030201" + "03000000" + "00000000" + "02000000" + "0000")));
        assertTrue(e.getMessage().contains("too short for the 4-byte config_len"), e.getMessage());
    }

    @Test
    void aConfigLengthBeyondTheOptionalDataIsRefused() {
        StreamException e = assertThrows(StreamException.class,
                () -> read(hex(MAGIC_HEX + "04030201" + "03000000" + "00000000" + "08000000" + "05000000" + "7b7d00")
                        .clone()));
        // 3 of the 4 bytes after config_len are there: the file ends inside the optional data first
        assertTrue(e instanceof StreamFatalException, e.getMessage());
        StreamException e2 = assertThrows(StreamException.class,
                () -> read(hex(MAGIC_HEX + "04030201" + "03000000" + "00000000" + "08000000" + "05000000" + "7b7d0000")));
        assertTrue(e2.getMessage().contains("config_len 5 exceeds the 4 bytes of optional data"), e2.getMessage());
    }

    @ParameterizedTest(name = "{0} bytes")
    @CsvSource({"0", "31", "40", "47"})
    void aFileThatEndsInsideTheFixedHeaderIsTruncated(int n) {
        byte[] whole = hex(MAGIC_HEX + "04030201" + "03000000" + "00000000" + "00000000");
        byte[] cut = java.util.Arrays.copyOf(whole, n);
        StreamException e = assertThrows(StreamFatalException.class, () -> read(cut));
        assertTrue(e.getMessage().contains("ends inside the 48-byte fixed header"), e.getMessage());
    }

    @Test
    void anotherToolsFileIsNotTakenForXls() {
        byte[] xend = concat("LinuxGuestRecord".getBytes(StandardCharsets.US_ASCII), new byte[32]);
        StreamException e = assertThrows(StreamException.class, () -> read(xend));
        assertTrue(e.getMessage().contains("not an xl save file"), e.getMessage());
        assertEquals(0, e.offset());
        assertFalse(XlSaveHeader.hasMagic(xend, xend.length));
        assertTrue(XlSaveHeader.hasMagic(hex(MAGIC_HEX), 32));
    }
}
