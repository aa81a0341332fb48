package dev.migrationd.protocol.legacy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Structural check of an HVM context blob (legacy-stream.md §10): a HEADER record (typecode 1, instance 0,
 * length 24, magic 0x54381286, version 1) first, then {@code u16 typecode, u16 instance, u32 length, body}
 * records with typecodes 1..20 that stay inside the blob, ending with the END descriptor (8 zero bytes) exactly
 * at the end. Record bodies are not interpreted.
 */
final class HvmContextCheck {
    /** Highest typecode Xen 4.5 knows (CPU_MSR). */
    static final int HVM_SAVE_CODE_MAX = 20;

    private HvmContextCheck() {
    }

    /** Null when the blob is well formed, else what is wrong. */
    static String problem(ByteBuffer blob) {
        ByteBuffer b = blob.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = b.position();
        int len = b.remaining();
        int d = LegacyFormat.HVM_SAVE_DESCRIPTOR_SIZE;
        if (len < d + LegacyFormat.HVM_SAVE_LENGTH_HEADER + d) {
            return "blob of " + len + " bytes is shorter than HEADER + END";
        }
        int code = b.getShort(base) & 0xFFFF;
        int rlen = b.getInt(base + 4);
        if (code != LegacyFormat.HVM_SAVE_CODE_HEADER || rlen != LegacyFormat.HVM_SAVE_LENGTH_HEADER) {
            return "first record must be HEADER (typecode 1, length 24), got typecode " + code + " length " + rlen;
        }
        if (b.getInt(base + d) != LegacyFormat.HVM_FILE_MAGIC) {
            return "HEADER magic 0x" + Integer.toHexString(b.getInt(base + d)) + " is not 0x54381286";
        }
        if (b.getInt(base + d + 4) != LegacyFormat.HVM_FILE_VERSION) {
            return "HEADER version " + b.getInt(base + d + 4) + " is not 1";
        }
        long off = d + LegacyFormat.HVM_SAVE_LENGTH_HEADER;
        while (true) {
            if (off + d > len) {
                return "record descriptor at offset " + off + " runs past the end (no END record)";
            }
            code = b.getShort(base + (int) off) & 0xFFFF;
            long l = b.getInt(base + (int) off + 4) & 0xFFFF_FFFFL;
            if (code == LegacyFormat.HVM_SAVE_CODE_END) {
                if (l != 0 || b.getShort(base + (int) off + 2) != 0) {
                    return "END descriptor at offset " + off + " is not all zero";
                }
                if (off + d != len) {
                    return (len - off - d) + " bytes after the END descriptor";
                }
                return null;
            }
            if (code > HVM_SAVE_CODE_MAX) {
                return "unknown typecode " + code + " at offset " + off;
            }
            if (off + d + l > len) {
                return "record typecode " + code + " at offset " + off + " of length " + l + " runs past the end";
            }
            off += d + l;
        }
    }
}
