package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * The toolstack headers that precede a libxc stream in a save file or migration (docs/wire-format-legacy.md §12): xl's
 * header (Xen 4.1+) and xend's {@code "LinuxGuestRecord"} (Xen ≤ 4.4). Parsing needs the whole header in one
 * buffer: {@link #xlHeaderLength(ByteBuffer)} says how long it is once the first 48 bytes are there.
 */
public final class ToolstackWrappers {
    private ToolstackWrappers() {
    }

    /** {@code "Xen saved domain, xl format\n \0 \r"}, 32 bytes including the embedded NUL. */
    public static final byte[] XL_MAGIC = "Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1);
    /** The byte-order marker, written in the writer's order (little-endian: 04 03 02 01). */
    public static final int XL_BYTEORDER_MARKER = 0x01020304;
    /** Mandatory flag bit 0: the config is libxl JSON (4.5+). */
    public static final int XL_MANDATORY_FLAG_JSON = 1;
    /** Mandatory flag bit 1: a v2 stream follows (4.6+; never set in legacy images). */
    public static final int XL_MANDATORY_FLAG_STREAMV2 = 2;
    /** xl header bytes before optional_data: magic, byteorder, mandatory, optional, optional_data_len. */
    public static final int XL_FIXED_SIZE = 48;
    /** Largest optional data (the domain config) accepted. */
    public static final int XL_MAX_OPTIONAL_DATA = 1 << 20;

    /** xend's {@code "LinuxGuestRecord"}, 16 bytes. */
    public static final byte[] XEND_MAGIC = "LinuxGuestRecord".getBytes(StandardCharsets.US_ASCII);
    /** Largest xend SXP config accepted. */
    public static final int XEND_MAX_CONFIG = 1 << 20;

    /**
     * The xl header: {@code char[32] magic, u32 byteorder, u32 mandatory_flags, u32 optional_flags,
     * u32 optional_data_len, u8 optional_data[]} where optional_data is {@code u32 config_len, u8 config[]}.
     */
    public record XlHeader(int mandatoryFlags, int optionalFlags, Bytes optionalData) {
        public XlHeader {
            Objects.requireNonNull(optionalData);
        }

        /** A legacy-image header with the given config (JSON with trailing NUL for 4.5, xl config text before). */
        public static XlHeader withConfig(byte[] config, boolean json) {
            ByteBuffer b = ByteBuffer.allocate(4 + config.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(config.length).put(config);
            return new XlHeader(json ? XL_MANDATORY_FLAG_JSON : 0, 0, Bytes.of(b.array()));
        }

        /** The config inside optional_data, or null when optional_data does not hold a well-formed one. */
        public Bytes config() {
            ByteBuffer b = optionalData.asByteBuffer();
            if (b.remaining() < 4) {
                return null;
            }
            long n = b.getInt() & 0xFFFF_FFFFL;
            return n > b.remaining() ? null : Bytes.of(Arrays.copyOfRange(optionalData.toArray(), 4, 4 + (int) n));
        }

        /** The header's bytes (little-endian). */
        public byte[] toBytes() {
            ByteBuffer b = ByteBuffer.allocate(XL_FIXED_SIZE + optionalData.size()).order(ByteOrder.LITTLE_ENDIAN);
            b.put(XL_MAGIC).putInt(XL_BYTEORDER_MARKER).putInt(mandatoryFlags).putInt(optionalFlags)
                    .putInt(optionalData.size());
            optionalData.copyTo(b);
            return b.array();
        }
    }

    /** Total xl header length once {@link #XL_FIXED_SIZE} bytes are available (position unchanged). */
    public static int xlHeaderLength(ByteBuffer in) throws StreamException {
        ByteBuffer b = in.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < XL_FIXED_SIZE) {
            throw new StreamFatalException("XL_HEADER", 0, 0, "need " + XL_FIXED_SIZE + " bytes, have " + b.remaining());
        }
        int p = b.position();
        for (int i = 0; i < XL_MAGIC.length; i++) {
            if (b.get(p + i) != XL_MAGIC[i]) {
                throw new StreamFatalException("XL_HEADER", 0, 0, "no xl header magic");
            }
        }
        if (b.getInt(p + 32) != XL_BYTEORDER_MARKER) {
            throw new StreamFatalException("XL_HEADER", 0, 32, "byte-order marker 0x" + Integer.toHexString(b.getInt(p + 32))
                    + " is not 0x01020304 little-endian");
        }
        long len = b.getInt(p + 44) & 0xFFFF_FFFFL;
        if (len > XL_MAX_OPTIONAL_DATA) {
            throw new StreamFatalException("XL_HEADER", 0, 44, "optional_data_len " + len + " exceeds " + XL_MAX_OPTIONAL_DATA);
        }
        return XL_FIXED_SIZE + (int) len;
    }

    /**
     * Reads an xl header from {@code in} (advancing it) and checks it introduces a legacy stream: unknown
     * mandatory flag bits and the STREAMv2 bit are refused.
     */
    public static XlHeader readXlHeader(ByteBuffer in) throws StreamException {
        int total = xlHeaderLength(in);
        if (in.remaining() < total) {
            throw new StreamFatalException("XL_HEADER", 0, 0, "truncated: need " + total + " bytes, have " + in.remaining());
        }
        ByteBuffer b = in.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int p = b.position();
        int mandatory = b.getInt(p + 36);
        if ((mandatory & ~(XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2)) != 0) {
            throw new RecordException("XL_HEADER", mandatory, 36, "unknown mandatory flags 0x" + Integer.toHexString(mandatory));
        }
        if ((mandatory & XL_MANDATORY_FLAG_STREAMV2) != 0) {
            throw new RecordException("XL_HEADER", mandatory, 36, "STREAMv2 flag set: a v2 stream follows, not a legacy one");
        }
        XlHeader h = new XlHeader(mandatory, b.getInt(p + 40), Bytes.of(b.slice(p + XL_FIXED_SIZE, total - XL_FIXED_SIZE)));
        in.position(in.position() + total);
        return h;
    }

    /** xend's header: {@code "LinuxGuestRecord"}, {@code i32 config_len} <b>big-endian</b>, SXP config. */
    public record XendHeader(Bytes config) {
        public byte[] toBytes() {
            ByteBuffer b = ByteBuffer.allocate(XEND_MAGIC.length + 4 + config.size()).order(ByteOrder.BIG_ENDIAN);
            b.put(XEND_MAGIC).putInt(config.size());
            config.copyTo(b);
            return b.array();
        }
    }

    /** Reads a xend header from {@code in} (advancing it). */
    public static XendHeader readXendHeader(ByteBuffer in) throws StreamException {
        ByteBuffer b = in.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.remaining() < 20) {
            throw new StreamFatalException("XEND_HEADER", 0, 0, "truncated");
        }
        int p = b.position();
        for (int i = 0; i < XEND_MAGIC.length; i++) {
            if (b.get(p + i) != XEND_MAGIC[i]) {
                throw new StreamFatalException("XEND_HEADER", 0, 0, "no \"LinuxGuestRecord\" magic");
            }
        }
        int len = b.getInt(p + 16);
        if (len < 0 || len > XEND_MAX_CONFIG) {
            throw new StreamFatalException("XEND_HEADER", 0, 16, "config length " + len + " out of range 0.." + XEND_MAX_CONFIG);
        }
        if (b.remaining() < 20 + len) {
            throw new StreamFatalException("XEND_HEADER", 0, 0, "truncated config");
        }
        XendHeader h = new XendHeader(Bytes.of(b.slice(p + 20, len)));
        in.position(in.position() + 20 + len);
        return h;
    }
}
