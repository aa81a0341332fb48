package dev.migrationd.protocol.legacy;

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
}
