package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * libxl's TOOLSTACK blob, "version 1" (docs/wire-format-legacy.md §6.9): {@code u32 version = 1, u32 count}, then per
 * entry
 * {@code u64 phys_offset, u64 start_addr, u64 size, u32 namelen, u8 name[namelen]} (NUL-terminated) followed by
 * 4 junk bytes when the toolstack is 64-bit (the C struct is 32 bytes there, 28 on 32-bit). PV: version 1, count 0.
 */
public final class ToolstackPhysmap {
    private ToolstackPhysmap() {
    }

    /** One QEMU physmap entry; {@code name} without the NUL. */
    public record Entry(long physOffset, long startAddr, long size, String name) {
    }

    /** The blob for {@code entries} written by a toolstack of width {@code w} (junk bytes are zero). */
    public static Bytes encode(Width w, List<Entry> entries) {
        int junk = w == Width.W64 ? 4 : 0;
        int size = 8;
        for (Entry e : entries) {
            size += 28 + e.name().getBytes(StandardCharsets.UTF_8).length + 1 + junk;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(LegacyFormat.TOOLSTACK_VERSION).putInt(entries.size());
        for (Entry e : entries) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            b.putLong(e.physOffset()).putLong(e.startAddr()).putLong(e.size()).putInt(name.length + 1).put(name)
                    .put((byte) 0);
            b.position(b.position() + junk);
        }
        return Bytes.of(b.array());
    }

    /** Parses a version-1 blob; throws IllegalArgumentException when it is malformed. */
    public static List<Entry> decode(Width w, Bytes blob) {
        ByteBuffer b = blob.asByteBuffer();
        if (b.remaining() < 8 || b.getInt() != LegacyFormat.TOOLSTACK_VERSION) {
            throw new IllegalArgumentException("not a version-1 libxl toolstack blob");
        }
        long count = b.getInt() & 0xFFFF_FFFFL;
        int junk = w == Width.W64 ? 4 : 0;
        List<Entry> out = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            if (b.remaining() < 28) {
                throw new IllegalArgumentException("entry " + i + " truncated");
            }
            long po = b.getLong();
            long sa = b.getLong();
            long sz = b.getLong();
            long nl = b.getInt() & 0xFFFF_FFFFL;
            if (nl < 1 || nl + junk > b.remaining()) {
                throw new IllegalArgumentException("entry " + i + " name length " + nl + " invalid");
            }
            byte[] name = new byte[(int) nl];
            b.get(name);
            if (name[name.length - 1] != 0) {
                throw new IllegalArgumentException("entry " + i + " name not NUL-terminated");
            }
            b.position(b.position() + junk);
            out.add(new Entry(po, sa, sz, new String(name, 0, name.length - 1, StandardCharsets.UTF_8)));
        }
        if (b.hasRemaining()) {
            throw new IllegalArgumentException(b.remaining() + " trailing bytes");
        }
        return out;
    }
}
