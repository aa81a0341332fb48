package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;

/** One of the HVM "pad+u64" chunks (§6.3): {@code i32 id, u32 pad = 0, u64 value}. */
public record HvmParam(ChunkType type, long value) implements LegacyItem {
    public HvmParam {
        if (!type.isHvmParam()) {
            throw new IllegalArgumentException(type + " is not an HVM param chunk");
        }
    }

    @Override
    public String itemName() {
        return type.xenName();
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        Wire.send(sink, Wire.chunk(type, LegacyFormat.HVM_PARAM_PAYLOAD).putInt(0).putLong(value));
    }

    /** Reads the payload after the id: the padding (ignored, as by Xen's receiver), then the value. */
    static void read(Framer in, ChunkType type, Framer.Then<? super HvmParam> then) throws StreamException {
        in.field("HVM_PARAM", LegacyFormat.HVM_PARAM_PAYLOAD, f -> {
            f.getInt();
            then.accept(new HvmParam(type, f.getLong()));
        });
    }
}
