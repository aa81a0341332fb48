package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/** {@code TOOLSTACK} (−18): {@code u32 len, u8 data[len]}, opaque (libxl's layout: {@link ToolstackPhysmap}). */
public record Toolstack(Bytes data) implements LegacyItem {
    public Toolstack {
        Objects.requireNonNull(data);
    }

    @Override
    public String itemName() {
        return ChunkType.TOOLSTACK.xenName();
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.chunk(ChunkType.TOOLSTACK, 4 + data.size()).putInt(data.size());
        data.copyTo(b);
        Wire.send(sink, b);
    }

    /** Reads the payload after the id: {@code u32 len} (checked against the limit), then the data. */
    static void read(Framer in, Framer.Then<? super Toolstack> then) throws StreamException {
        in.field("TOOLSTACK_LEN", 4, f -> {
            long len = f.getInt() & 0xFFFF_FFFFL;
            if (len > in.limits().maxToolstackBytes()) {
                throw in.fatal("TOOLSTACK length " + len + " exceeds " + in.limits().maxToolstackBytes());
            }
            in.field("TOOLSTACK_DATA", len, d -> then.accept(new Toolstack(Bytes.of(d))));
        });
    }
}
