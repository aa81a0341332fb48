package dev.migrationd.protocol.legacy;

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
}
