package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.Width;
import java.io.IOException;

/** A chunk without payload: {@code ENABLE_VERIFY_MODE} (−1), {@code LAST_CHECKPOINT} (−9), {@code ENABLE_COMPRESSION} (−13). */
public record Marker(ChunkType type) implements LegacyItem {
    public Marker {
        if (type != ChunkType.ENABLE_VERIFY_MODE && type != ChunkType.LAST_CHECKPOINT
                && type != ChunkType.ENABLE_COMPRESSION) {
            throw new IllegalArgumentException(type + " has a payload");
        }
    }

    @Override
    public String itemName() {
        return type.xenName();
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        Wire.send(sink, Wire.chunk(type, 0));
    }
}
