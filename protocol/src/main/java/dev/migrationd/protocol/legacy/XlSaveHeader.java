package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The header of a file {@code xl save} writes (docs/wire-format-legacy.md §12.1), read as {@code xl restore} reads
 * it and every length in it treated as untrusted: the 48 fixed bytes (magic, byte-order marker, mandatory and
 * optional flags, optional data length), then the optional data, which holds {@code u32 config_len} and the domain
 * configuration (libxl JSON when the JSON flag is set, else xl's config-file text). What {@code xl restore} does
 * is the rule: a byte-order marker other than {@code 0x01020304} in this host's (little-endian) order is refused
 * (a file written on a big-endian host); an unknown mandatory flag is refused, optional flags are not checked;
 * no optional data means no configuration; optional data too short for its own config length is a truncated
 * file; bytes after the configuration are skipped.
 *
 * @param mandatoryFlags    the mandatory flags (only {@link ToolstackWrappers#XL_MANDATORY_FLAG_JSON} and
 *                          {@link ToolstackWrappers#XL_MANDATORY_FLAG_STREAMV2} are accepted)
 * @param optionalFlags     the optional flags, as found
 * @param optionalDataBytes the optional data's length
 * @param config            the configuration, or null when the file carries none (a trailing NUL is kept)
 */
public record XlSaveHeader(int mandatoryFlags, int optionalFlags, int optionalDataBytes, byte[] config) {

    /** The item name errors carry. */
    public static final String ITEM = "XL_HEADER";
    /** Offset of {@code byteorder}. */
    static final int BYTEORDER_OFFSET = 32;
    /** Offset of {@code mandatory_flags}. */
    static final int MANDATORY_OFFSET = 36;
    /** Offset of {@code optional_data_len}. */
    static final int OPTIONAL_LEN_OFFSET = 44;
    /** The byte-order marker as a little-endian reader sees a big-endian writer's. */
    static final int BYTEORDER_SWAPPED = Integer.reverseBytes(ToolstackWrappers.XL_BYTEORDER_MARKER);
    /**
     * The largest configuration accepted: a libxl JSON config for a guest with a few disks and NICs is a few KiB;
     * the optional data that holds it is bounded by {@link ToolstackWrappers#XL_MAX_OPTIONAL_DATA}.
     */
    public static final int MAX_CONFIG_BYTES = ToolstackWrappers.XL_MAX_OPTIONAL_DATA - 4;

    /** Whether the configuration is libxl JSON (else xl's config-file syntax). */
    public boolean json() {
        return (mandatoryFlags & ToolstackWrappers.XL_MANDATORY_FLAG_JSON) != 0;
    }

    /** Whether a v2 stream (libxl layer) follows; else a legacy libxc stream (Xen ≤ 4.5). */
    public boolean streamV2() {
        return (mandatoryFlags & ToolstackWrappers.XL_MANDATORY_FLAG_STREAMV2) != 0;
    }

    /** The header's length in the file: where the stream starts. */
    public long length() {
        return ToolstackWrappers.XL_FIXED_SIZE + Integer.toUnsignedLong(optionalDataBytes);
    }

    /** The configuration as text, without the trailing NUL xl writes after JSON; null without one. */
    public String configText() {
        if (config == null) {
            return null;
        }
        int n = config.length;
        while (n > 0 && config[n - 1] == 0) {
            n--;
        }
        return new String(config, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** One line for logs and reports: the flags and what the configuration is. */
    public String describe() {
        return "xl save-file header: mandatory flags 0x" + Integer.toHexString(mandatoryFlags)
                + (json() ? " (JSON" : " (config text") + (streamV2() ? ", STREAMv2)" : ", legacy stream)")
                + ", optional flags 0x" + Integer.toHexString(optionalFlags) + ", optional data " + optionalDataBytes
                + " bytes, " + (config == null ? "no configuration" : "configuration " + config.length + " bytes");
    }

    /**
     * The bytes {@code xl save} writes before a libxl v2 stream: STREAMv2 set, and JSON set when {@code json};
     * optional data = {@code u32 config_len}, config. Little-endian, as on every host Xen's x86 tools run on.
     */
    public static byte[] forStreamV2(byte[] config, boolean json) {
        if (config.length > MAX_CONFIG_BYTES) {
            throw new IllegalArgumentException("configuration of " + config.length + " bytes exceeds " + MAX_CONFIG_BYTES);
        }
        int mandatory = ToolstackWrappers.XL_MANDATORY_FLAG_STREAMV2 | (json ? ToolstackWrappers.XL_MANDATORY_FLAG_JSON : 0);
        ByteBuffer b = ByteBuffer.allocate(ToolstackWrappers.XL_FIXED_SIZE + 4 + config.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(ToolstackWrappers.XL_MAGIC).putInt(ToolstackWrappers.XL_BYTEORDER_MARKER).putInt(mandatory).putInt(0)
                .putInt(4 + config.length).putInt(config.length).put(config);
        return b.array();
    }

    /** Whether {@code start} (at least 32 bytes, else false) begins with xl's magic. */
    public static boolean hasMagic(byte[] start, int length) {
        if (length < ToolstackWrappers.XL_MAGIC.length) {
            return false;
        }
        return Arrays.equals(start, 0, ToolstackWrappers.XL_MAGIC.length, ToolstackWrappers.XL_MAGIC, 0,
                ToolstackWrappers.XL_MAGIC.length);
    }

    /**
     * Reads the header from {@code in}, which is left at the first byte of the stream. Refusals name the field and
     * its offset; a file that ends inside the header is a {@link StreamFatalException}.
     */
    public static XlSaveHeader read(InputStream in) throws IOException, StreamException {
        byte[] fixed = readFully(in, ToolstackWrappers.XL_FIXED_SIZE, 0, "the 48-byte fixed header");
        XlFixed f = fixed(ByteBuffer.wrap(fixed));
        byte[] optional = readFully(in, f.optionalDataBytes, ToolstackWrappers.XL_FIXED_SIZE, "optional data of "
                + f.optionalDataBytes + " bytes (optional_data_len)");
        return of(f, optional);
    }

    /** The 48 fixed bytes, checked: what {@link #read} knows before reading the optional data. */
    public record XlFixed(int mandatoryFlags, int optionalFlags, int optionalDataBytes) {
    }

    /** Checks the fixed part at {@code b}'s position (at least 48 bytes there; position unchanged). */
    public static XlFixed fixed(ByteBuffer b) throws StreamException {
        ByteBuffer h = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (h.remaining() < ToolstackWrappers.XL_FIXED_SIZE) {
            throw new StreamFatalException(ITEM, 0, 0, "the file ends after " + h.remaining() + " bytes, inside the "
                    + ToolstackWrappers.XL_FIXED_SIZE + "-byte fixed header");
        }
        int p = h.position();
        for (int i = 0; i < ToolstackWrappers.XL_MAGIC.length; i++) {
            if (h.get(p + i) != ToolstackWrappers.XL_MAGIC[i]) {
                throw new StreamFatalException(ITEM, 0, i, "magic differs from \"Xen saved domain, xl format\\n \\0 \\r\" "
                        + "at byte " + i + ": not an xl save file");
            }
        }
        int order = h.getInt(p + BYTEORDER_OFFSET);
        if (order == BYTEORDER_SWAPPED) {
            throw new RecordException(ITEM, order, BYTEORDER_OFFSET, "byteorder reads 0x04030201: the file was written by "
                    + "xl on a big-endian host; xl restore refuses it here too (\"File has wrong byte order\")");
        }
        if (order != ToolstackWrappers.XL_BYTEORDER_MARKER) {
            throw new RecordException(ITEM, Integer.toUnsignedLong(order), BYTEORDER_OFFSET, "byteorder is 0x"
                    + Integer.toHexString(order) + ", not 0x01020304: the header is damaged");
        }
        int mandatory = h.getInt(p + MANDATORY_OFFSET);
        int known = ToolstackWrappers.XL_MANDATORY_FLAG_JSON | ToolstackWrappers.XL_MANDATORY_FLAG_STREAMV2;
        if ((mandatory & ~known) != 0) {
            throw new RecordException(ITEM, Integer.toUnsignedLong(mandatory), MANDATORY_OFFSET, "mandatory_flags 0x"
                    + Integer.toHexString(mandatory) + " has bit(s) 0x" + Integer.toHexString(mandatory & ~known)
                    + " that Xen 4.17's xl does not know either (only JSON 0x1 and STREAMv2 0x2)");
        }
        long len = Integer.toUnsignedLong(h.getInt(p + OPTIONAL_LEN_OFFSET));
        if (len > ToolstackWrappers.XL_MAX_OPTIONAL_DATA) {
            throw new RecordException(ITEM, len, OPTIONAL_LEN_OFFSET, "optional_data_len " + len + " exceeds the limit of "
                    + ToolstackWrappers.XL_MAX_OPTIONAL_DATA + " bytes");
        }
        return new XlFixed(mandatory, h.getInt(p + 40), (int) len);
    }

    /** The header from its checked fixed part and its optional data (exactly {@code f.optionalDataBytes}). */
    public static XlSaveHeader of(XlFixed f, byte[] optional) throws StreamException {
        if (optional.length != f.optionalDataBytes) {
            throw new IllegalArgumentException("optional data of " + optional.length + " bytes, header says "
                    + f.optionalDataBytes);
        }
        byte[] config = null;
        if (optional.length > 0) {
            if (optional.length < 4) {
                throw new RecordException(ITEM, optional.length, OPTIONAL_LEN_OFFSET, "optional_data_len " + optional.length
                        + " is too short for the 4-byte config_len it must start with (truncated optional data)");
            }
            long configLen = Integer.toUnsignedLong(ByteBuffer.wrap(optional).order(ByteOrder.LITTLE_ENDIAN).getInt(0));
            if (configLen > optional.length - 4) {
                throw new RecordException(ITEM, configLen, ToolstackWrappers.XL_FIXED_SIZE, "config_len " + configLen
                        + " exceeds the " + (optional.length - 4) + " bytes of optional data after it (optional_data_len "
                        + optional.length + ")");
            }
            config = Arrays.copyOfRange(optional, 4, 4 + (int) configLen);
        }
        return new XlSaveHeader(f.mandatoryFlags, f.optionalFlags, f.optionalDataBytes, config);
    }

    private static byte[] readFully(InputStream in, int n, long offset, String what) throws IOException, StreamException {
        byte[] b = new byte[n];
        int got = 0;
        while (got < n) {
            int r = in.read(b, got, n - got);
            if (r < 0) {
                throw new StreamFatalException(ITEM, 0, offset + got, "the file ends inside " + what + " (" + got + " of "
                        + n + " bytes)");
            }
            got += r;
        }
        return b;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof XlSaveHeader h && h.mandatoryFlags == mandatoryFlags && h.optionalFlags == optionalFlags
                && h.optionalDataBytes == optionalDataBytes && Arrays.equals(h.config, config);
    }

    @Override
    public int hashCode() {
        return 31 * Integer.hashCode(mandatoryFlags) + Arrays.hashCode(config);
    }

    @Override
    public String toString() {
        return describe();
    }
}
