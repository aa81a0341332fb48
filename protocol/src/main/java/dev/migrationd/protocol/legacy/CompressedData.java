package dev.migrationd.protocol.legacy;

import java.util.Objects;

/** {@code COMPRESSED_DATA} (−12): {@code ulong len, u8 data[len]}; see {@link CheckpointCompression}. */
public record CompressedData(Bytes data) implements LegacyItem {
    public CompressedData {
        Objects.requireNonNull(data);
    }

    @Override
    public String itemName() {
        return ChunkType.COMPRESSED_DATA.xenName();
    }
}
